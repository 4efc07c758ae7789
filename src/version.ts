// version — this package's version, read from package.json next to the build (the CLI's
// --version and the metrics' affinityd_build_info say the same thing).

import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export function version(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  // dist/src/version.js → ../../package.json; the bundled CLI in dist/src/cli/ →
  // ../../../package.json; src/version.ts (ts-node style) → ../package.json
  for (const rel of ['../../package.json', '../../../package.json', '../package.json']) {
    try {
      return (JSON.parse(fs.readFileSync(path.resolve(here, rel), 'utf8')) as { version: string }).version;
    } catch {
      // try the next layout
    }
  }
  return 'unknown';
}
