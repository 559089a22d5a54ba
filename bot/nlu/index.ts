import { Recognizer } from './recognizer';

export { Recognizer, DEFAULT_THRESHOLDS, type Decision, type Thresholds } from './recognizer';
export * from './types';

let shared: Recognizer | undefined;

/**
 * The recognizer trained on the bundled corpus and resources, trained once per process
 * (the corpus does not change while the bot runs).
 */
export function defaultRecognizer(): Recognizer {
  shared ??= Recognizer.create();
  return shared;
}
