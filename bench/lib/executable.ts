// bench/lib/executable — the node flags the shipped executable runs with. They live in one
// place, the shebang of src/cli/main.ts (`#!/usr/bin/env -S node …`), which the unit, the
// idle and start-up benches and `npm install -g` all start through; benchmarks that run the
// agent or the planner inside their own process read them from there, so that what they
// measure is what ships.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

/** dist/src/cli/main.js: the executable (bench/lib → dist/bench/lib at run time). */
export const EXECUTABLE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src/cli/main.js');

/** The node flags of an executable's shebang (`#!/usr/bin/env -S node --a --b` → --a, --b). */
export function shebangFlags(file = EXECUTABLE): string[] {
  const line = fs.readFileSync(file, 'utf8').split('\n', 1)[0]!;
  const m = /^#!\S*env\s+(?:-S\s+)?node((?:\s+\S+)*)\s*$/.exec(line);
  if (!m) throw new Error(`${file}: expected a '#!/usr/bin/env -S node …' first line, got '${line}'`);
  return m[1]!.trim().split(/\s+/).filter(Boolean);
}
