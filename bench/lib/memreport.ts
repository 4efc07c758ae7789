// bench/lib/memreport — preloaded into an agent the idle benchmark spawns
// (NODE_OPTIONS=--import …/memreport.js): on SIGUSR2 it writes one JSON line with
// process.memoryUsage() to stderr, so heap and RSS come from the very process whose wake-ups
// were counted. A signal listener adds no timer and no wake-up.

import * as fs from 'node:fs';

process.on('SIGUSR2', () => {
  fs.writeSync(2, `${JSON.stringify({ memreport: process.memoryUsage() })}\n`);
});
