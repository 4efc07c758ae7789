// policy/shipped — where the packaged etc/affinityd.ini lives. It is the default policy
// (defaultPolicy() parses it) and sits in package.json "files", next to dist/.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Path of the shipped etc/affinityd.ini, or null when it cannot be found. */
export function shippedPolicyPath(): string | null {
  const here = path.dirname(fileURLToPath(import.meta.url));
  // Compiled: dist/src/policy → ../../../etc. Run from source (src/policy): ../../etc.
  for (const rel of ['../../../etc/affinityd.ini', '../../etc/affinityd.ini']) {
    const p = path.resolve(here, rel);
    try {
      if (fs.statSync(p).isFile()) return p;
    } catch {
      // try the next layout
    }
  }
  return null;
}
