// bench/lib/memreport — a preload for an agent the idle benchmark spawns
// (NODE_OPTIONS=--require …/memreport.cjs): on SIGUSR2 it writes one JSON line with
// process.memoryUsage() to stderr, so heap and RSS come from the very process whose wake-ups
// were counted. A signal listener adds no timer and no wake-up.
//
// CommonJS, written as a file next to the run's other temporaries: the executable is a
// CommonJS bundle, and an ES module preload (--import) would load node's ES module loader into
// the agent, +1.1 MB of RSS that the shipped agent does not have (scripts/bundle-cli.mjs).

import * as fs from 'node:fs';
import * as path from 'node:path';

const PRELOAD = `process.on('SIGUSR2', () => {
  require('node:fs').writeSync(2, JSON.stringify({ memreport: process.memoryUsage() }) + '\\n');
});
`;

/** Write the preload into `dir`; returns the path for --require. */
export function writeMemreportPreload(dir: string): string {
  const file = path.join(dir, 'memreport.cjs');
  fs.writeFileSync(file, PRELOAD);
  return file;
}
