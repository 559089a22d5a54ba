/** The parts of NLP.js (v4) the recognizer uses; the packages ship no type declarations. */
declare module '@nlpjs/neural' {
  export interface NeuralNetworkSettings {
    iterations?: number;
    errorThresh?: number;
    deltaErrorThresh?: number;
    learningRate?: number;
    momentum?: number;
    alpha?: number;
    log?: boolean;
  }
  export interface TrainingStatus {
    error: number;
    deltaError: number;
    iterations: number;
  }
  export interface TrainingItem {
    input: Record<string, number>;
    output: Record<string, number>;
  }
  export class NeuralNetwork {
    constructor(settings?: NeuralNetworkSettings);
    train(corpus: TrainingItem[]): TrainingStatus;
    run(input: Record<string, number>): Record<string, number> | undefined;
    explain(input: Record<string, number>, intent: string): { weights: Record<string, number>; bias: number } | Record<string, never>;
    toJSON(): unknown;
    fromJSON(json: unknown): void;
  }
}

declare module '@nlpjs/lang-en-min' {
  export class StemmerEn {
    constructor(container?: unknown);
    stemWord(word: string): string;
  }
  export class StopwordsEn {
    constructor(container?: unknown, words?: string[]);
    dictionary: Record<string, boolean>;
  }
}
