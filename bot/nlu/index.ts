import { Recognizer } from './recognizer';
import { loadResources, type RequestableResource } from './resources';

export { Recognizer, DEFAULT_THRESHOLDS, type Decision, type Thresholds } from './recognizer';
export * from './types';

const trained = new Map<string, Recognizer>();

/**
 * The recognizer trained on the bundled corpus, with the resources of the bundled access
 * catalog or the ones given (the catalog the bot loaded). Trained once per process and
 * resource list: the corpus and the catalog do not change while the bot runs.
 */
export function defaultRecognizer(resources: readonly RequestableResource[] = loadResources()): Recognizer {
  const key = JSON.stringify(resources.map((r) => [r.id, r.name, r.aliases]));
  let recognizer = trained.get(key);
  if (!recognizer) {
    recognizer = Recognizer.create({ resources });
    // A handful of catalogs at most (tests); never grow without bound.
    if (trained.size >= 8) trained.clear();
    trained.set(key, recognizer);
  }
  return recognizer;
}
