// scripts/install.sh into a staging DESTDIR: binary, units, rules, default policy; an existing
// policy is kept; the installed binary runs the main job. And the README's `npx affinityd
// plan` right after `npm install`: it runs the checkout's build as it is.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('../..', import.meta.url));

describe('install.sh', () => {
  const dest = fs.mkdtempSync(path.join(os.tmpdir(), 'affd-install-'));
  after(() => fs.rmSync(dest, { recursive: true, force: true }));

  it('installs under DESTDIR+PREFIX, never overwrites a policy, and the binary plans', () => {
    fs.mkdirSync(path.join(dest, 'etc/affinityd'), { recursive: true });
    fs.writeFileSync(path.join(dest, 'etc/affinityd/affinityd.ini'), '[cpus]\nexclude-cpus = 1\n');
    const r = spawnSync(path.join(REPO, 'scripts/install.sh'), [], { encoding: 'utf8', env: { ...process.env, DESTDIR: dest, PREFIX: '/opt/affd' } });
    assert.equal(r.status, 0, r.stderr);
    const bin = path.join(dest, 'opt/affd/bin/affinityd');
    assert.ok(fs.existsSync(bin));
    const unit = fs.readFileSync(path.join(dest, 'opt/affd/lib/systemd/system/affinityd.service'), 'utf8');
    assert.match(unit, /^ExecStart=\/bin\/sh -c '[^']*exec \/opt\/affd\/bin\/affinityd "\$\$@"' affinityd run$/m);
    assert.doesNotMatch(unit, /\/usr\/bin\/affinityd/);
    assert.ok(fs.existsSync(path.join(dest, 'opt/affd/lib/systemd/system/affinityd-apply.service')));
    assert.ok(fs.existsSync(path.join(dest, 'opt/affd/lib/udev/rules.d/90-affinityd.rules')));
    assert.equal(fs.readFileSync(path.join(dest, 'etc/affinityd/affinityd.ini'), 'utf8'), '[cpus]\nexclude-cpus = 1\n', 'existing policy kept');
    assert.match(r.stdout, /keeping existing/);
    const v = spawnSync(bin, ['--version'], { encoding: 'utf8' });
    assert.equal(v.status, 0, v.stderr);
    const plan = spawnSync(bin, ['plan', '--json', '--config', path.join(dest, 'etc/affinityd/affinityd.ini')], { encoding: 'utf8' });
    assert.equal(plan.status, 0, plan.stderr);
    const p = JSON.parse(plan.stdout) as { allowedCpus: string };
    assert.ok(!p.allowedCpus.split(',').includes('1'), 'the installed binary used the given policy');
  });
});

describe('npx affinityd (the README\'s command after npm install)', () => {
  it('runs plan from the checkout without building dist/ again (prepare builds only changed sources)', () => {
    // npm 11 links the checkout into a fresh npx cache and runs its `prepare` first: before
    // the build stamp that was a whole rebuild (rm -rf dist) on every first call in a home.
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'affd-npx-home-'));
    try {
      const exe = path.join(REPO, 'dist/src/cli/affinityd.cjs');
      const stamp = path.join(REPO, 'dist/.build-inputs');
      const before = { exe: fs.statSync(exe).mtimeMs, stamp: fs.readFileSync(stamp, 'utf8') };
      const check = spawnSync(process.execPath, [path.join(REPO, 'scripts/build-stamp.mjs'), 'check'], { encoding: 'utf8' });
      assert.equal(check.status, 0, `dist/ is not the build of these sources: ${check.stderr}`);
      const env = { ...process.env, HOME: home, npm_config_cache: path.join(home, '.npm'), npm_config_update_notifier: 'false' };
      const r = spawnSync('npx', ['--yes', 'affinityd', 'plan', '--json'], { cwd: REPO, encoding: 'utf8', env, timeout: 120_000 });
      assert.equal(r.status, 0, r.stderr);
      assert.ok((JSON.parse(r.stdout) as { irqs: unknown[] }).irqs.length > 0);
      assert.equal(fs.statSync(exe).mtimeMs, before.exe, 'the executable was rebuilt');
      assert.equal(fs.readFileSync(stamp, 'utf8'), before.stamp);
    } finally {
      fs.rmSync(home, { recursive: true, force: true });
    }
  });
});
