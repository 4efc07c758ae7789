// bench/lib/executable — the node flags the shipped executable runs with. They live in one
// place, the shebang of src/cli/main.ts (`#!/usr/bin/env -S node …`), which the unit, the
// idle and start-up benches and `npm install -g` all start through; benchmarks that run the
// agent or the planner inside their own process read them from there, so that what they
// measure is what ships.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { EXECUTABLE } from '../../src/cli/executable.js';

export { EXECUTABLE };

/** The node flags of an executable's shebang (`#!/usr/bin/env -S node --a --b` → --a, --b). */
export function shebangFlags(file = EXECUTABLE): string[] {
  const line = fs.readFileSync(file, 'utf8').split('\n', 1)[0]!;
  const m = /^#!\S*env\s+(?:-S\s+)?node((?:\s+\S+)*)\s*$/.exec(line);
  if (!m) throw new Error(`${file}: expected a '#!/usr/bin/env -S node …' first line, got '${line}'`);
  return m[1]!.trim().split(/\s+/).filter(Boolean);
}

/**
 * How the unit starts the agent (systemd/affinityd.service's ExecStart=: a shell that picks
 * NODE_OPTIONS by the machine's CPU count, then execs the executable), with the executable
 * put in for /usr/bin/affinityd: the command and the arguments before the agent's own. The
 * idle and start-up benches start the agent through it, so they measure what the unit runs;
 * bench/rss-ab starts other builds' executables through it the same way.
 */
export function unitLaunch(executable = EXECUTABLE): { command: string; args: string[] } {
  const unit = fs.readFileSync(path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../systemd/affinityd.service'), 'utf8');
  const line = /^ExecStart=(.*)$/m.exec(unit)?.[1];
  // systemd's `$$` is a literal `$`.
  const m = line === undefined ? null : /^(\/bin\/sh) -c '([^']*)' (\S+) run$/.exec(line.replaceAll('$$', '$'));
  if (!m) throw new Error(`systemd/affinityd.service: expected ExecStart=/bin/sh -c '…' NAME run, got '${line}'`);
  return { command: m[1]!, args: ['-c', m[2]!.replaceAll('/usr/bin/affinityd', executable), m[3]!] };
}
