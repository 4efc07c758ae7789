// remove-file — delete a file that may not be there (the metrics and state temp files).
//
// unlinkSync, not fs.rmSync(file, { force: true }): the same outcome for a file, but rmSync
// loads node's rimraf module on first use, and every module a running agent loads stays in
// its RSS (issue 14; test/agent-modules.test.ts keeps it out).

import * as fs from 'node:fs';

/** Unlink `file`; a file that is already gone is fine, any other error is thrown. */
export function removeFileIfPresent(file: string): void {
  try {
    fs.unlinkSync(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
}
