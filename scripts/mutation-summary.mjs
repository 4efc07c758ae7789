#!/usr/bin/env node
// mutation-summary — per-module figures and the surviving mutants from Stryker's JSON reports
// (reports/mutation/mutation.json, written by `npm run mutate`, or several reports of runs
// made module by module: a file in a later report replaces the same file of an earlier one),
// for docs/mutation.md.
// Score = (killed + timeout) / (killed + timeout + survived + no coverage), Stryker's own.
import * as fs from 'node:fs';

const files = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const report = { files: {} };
for (const file of files.length > 0 ? files : ['reports/mutation/mutation.json']) {
  Object.assign(report.files, JSON.parse(fs.readFileSync(file, 'utf8')).files);
}
const rows = [];
const survivors = [];
const total = { killed: 0, timeout: 0, survived: 0, noCoverage: 0, ignored: 0, other: 0 };
for (const [name, f] of Object.entries(report.files).sort()) {
  const c = { killed: 0, timeout: 0, survived: 0, noCoverage: 0, ignored: 0, other: 0 };
  const lines = f.source.split('\n');
  for (const m of f.mutants) {
    const k = { Killed: 'killed', Timeout: 'timeout', Survived: 'survived', NoCoverage: 'noCoverage', Ignored: 'ignored' }[m.status] ?? 'other';
    c[k]++;
    total[k]++;
    if (k === 'survived' || k === 'noCoverage') {
      const l = m.location.start.line;
      survivors.push(`${name}:${l}:${m.location.start.column} ${m.status} ${m.mutatorName}: ${JSON.stringify(lines[l - 1].trim().slice(0, 110))} -> ${JSON.stringify((m.replacement ?? '').slice(0, 60))}`);
    }
  }
  rows.push([name, c]);
}
const score = (c) => ((100 * (c.killed + c.timeout)) / Math.max(1, c.killed + c.timeout + c.survived + c.noCoverage)).toFixed(1);
console.log('| module | killed | timeout | survived | no coverage | score |');
console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
for (const [n, c] of rows) console.log(`| ${n} | ${c.killed} | ${c.timeout} | ${c.survived} | ${c.noCoverage} | ${score(c)} % |`);
console.log(`| **all** | ${total.killed} | ${total.timeout} | ${total.survived} | ${total.noCoverage} | **${score(total)} %** |`);
console.log(`\nignored (static, not run): ${total.ignored}; compile errors / runtime errors: ${total.other}\n`);
if (process.argv.includes('--survivors')) for (const s of survivors) console.log(s);
