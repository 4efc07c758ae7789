import { buildFixture, presets, removeFixture } from './dist/test/helpers/fixture.js';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
const root = buildFixture(presets.vm2());
fs.writeFileSync(root + '/cfg.ini', `[agent]\nstate-file = ${root}/state.json\n`);
const c = spawn(process.execPath, [...(process.env.EXTRA ? process.env.EXTRA.split(' ') : []), 'dist/src/cli/main.js', 'run', '--root', root, '--config', root + '/cfg.ini'], { stdio: ['ignore', 'ignore', 'inherit'] });
await new Promise((r) => setTimeout(r, 2500));
console.log(fs.readFileSync(`/proc/${c.pid}/smaps_rollup`, 'utf8').split('\n').filter(l=>/^(Rss|Pss|Shared|Private|Anon)/.test(l)).join('\n'));
// biggest mappings
const sm = fs.readFileSync(`/proc/${c.pid}/smaps`, 'utf8').split('\n');
let cur = ''; const m = [];
for (const l of sm) { if (/^[0-9a-f]+-[0-9a-f]+ /.test(l)) cur = l.split(/\s+/).slice(5).join(' ') || '[anon]'; const r = /^Rss:\s+(\d+)/.exec(l); if (r) m.push([Number(r[1]), cur]); }
const agg = {}; for (const [k, n] of m) agg[n] = (agg[n] ?? 0) + k;
console.log(Object.entries(agg).sort((a, b) => b[1] - a[1]).slice(0, 10));
c.kill('SIGTERM'); await new Promise((r) => c.on('exit', r)); removeFixture(root);
