#!/usr/bin/env node
// mutation-config — a Stryker config for one module, so that a run costs minutes, not an
// hour: node scripts/mutation-config.mjs NAME 'GLOB[,GLOB]' [TEST[,TEST]] [--concurrency N]
// writes reports/cfg-NAME.json from stryker.config.json with only those files mutated, only
// those test files (dist/test/TEST.test.js) run, and its own incremental file and JSON
// report (reports/mutation/NAME.json). Then:
//   AFFINITYD_MUTATION=1 npx stryker run reports/cfg-NAME.json
//   node scripts/mutation-summary.mjs reports/mutation/*.json
// A mutant that only a test file left out could kill counts as surviving: the figure is a
// floor, never flattered.
import * as fs from 'node:fs';

const args = process.argv.slice(2);
const ci = args.indexOf('--concurrency');
const concurrency = ci >= 0 ? Number(args.splice(ci, 2)[1]) : 1;
const [name, mutate, tests] = args;
if (!name || !mutate) {
  console.error("usage: node scripts/mutation-config.mjs NAME 'GLOB[,GLOB]' [TEST[,TEST]] [--concurrency N]");
  process.exit(64);
}
const cfg = JSON.parse(fs.readFileSync('stryker.config.json', 'utf8'));
cfg.mutate = mutate.split(',');
if (tests) cfg.tap.testFiles = tests.split(',').map((t) => `dist/test/${t}.test.js`);
cfg.incrementalFile = `reports/inc-${name}.json`;
cfg.jsonReporter = { fileName: `reports/mutation/${name}.json` };
cfg.reporters = ['progress-append-only', 'json'];
cfg.concurrency = concurrency;
fs.mkdirSync('reports', { recursive: true });
fs.writeFileSync(`reports/cfg-${name}.json`, JSON.stringify(cfg, null, 2) + '\n');
console.log(`reports/cfg-${name}.json`);
