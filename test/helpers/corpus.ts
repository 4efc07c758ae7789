// corpus — where the shared capture corpus is: $AFFINITYD_CORPUS, else `../shared/corpus`
// beside the project root (never copied into the repository; the path must work on any
// clone, not only on the machine where the tests were written).

import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The project root: this file runs as dist/test/helpers/corpus.js. */
export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

export const CORPUS = process.env.AFFINITYD_CORPUS ?? path.resolve(PROJECT_ROOT, '../shared/corpus');

/** A corpus collection: proc-interrupts, util-linux-lscpu, hwloc-linux, sysfs-net. */
export function corpusDir(collection: string): string {
  return path.join(CORPUS, collection);
}
