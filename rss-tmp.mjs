import { buildFixture, presets, removeFixture } from './dist/test/helpers/fixture.js';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
const root = buildFixture(presets.vm2());
fs.writeFileSync(root + '/cfg.ini', `[agent]\nstate-file = ${root}/state.json\n`);
const res = [];
for (let i = 0; i < 3; i++) {
  const c = spawn(process.execPath, [...(process.env.EXTRA ? process.env.EXTRA.split(' ') : []), 'dist/src/cli/main.js', 'run', '--root', root, '--config', root + '/cfg.ini'], { stdio: ['ignore', 'ignore', 'inherit'] });
  await new Promise((r) => setTimeout(r, 2500));
  const st = fs.readFileSync(`/proc/${c.pid}/status`, 'utf8');
  res.push(Number(/VmRSS:\s+(\d+)/.exec(st)[1]));
  c.kill('SIGTERM');
  await new Promise((r) => c.on('exit', r));
}
console.log('RSS KiB', res);
removeFixture(root);
