// scripts/install.sh into a staging DESTDIR: binary, units, rules, default policy; an existing
// policy is kept; the installed binary runs the main job.
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
