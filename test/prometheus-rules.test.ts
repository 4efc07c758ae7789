// The alert rules in contrib/prometheus: valid (`promtool check rules`), behaving as their
// unit tests say on hand-written series (`promtool test rules`: a host with one hot CPU
// fires, a balanced one does not), and naming only metrics the agent really exports.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { AgentMetrics } from '../src/metrics/metrics.js';

const DIR = fileURLToPath(new URL('../../contrib/prometheus/', import.meta.url));
const RULES = `${DIR}affinityd.rules.yml`;

function promtool(...args: string[]): { status: number | null; out: string } {
  const r = spawnSync('promtool', args, { cwd: DIR, encoding: 'utf8', timeout: 60_000 });
  if (r.error) throw new Error(`promtool: ${r.error.message} (Debian package prometheus; .ci/run installs it)`);
  return { status: r.status, out: r.stdout + r.stderr };
}

test('promtool check rules: the rule file is valid', () => {
  const r = promtool('check', 'rules', RULES);
  assert.equal(r.status, 0, r.out);
  assert.match(r.out, /SUCCESS: 5 rules found/);
});

test('promtool test rules: hot CPU fires, balanced/idle/single-CPU hosts do not; failures, stuck passes, a stopped agent, drift', () => {
  const r = promtool('test', 'rules', 'affinityd.rules.test.yml');
  assert.equal(r.status, 0, r.out);
  assert.match(r.out, /SUCCESS/);
});

test('promtool test rules fails when the expectation is wrong (the unit tests can fail)', () => {
  const tmp = fs.mkdtempSync(`${DIR}.tmp-`);
  try {
    fs.copyFileSync(RULES, `${tmp}/affinityd.rules.yml`);
    // Claim the balanced host fires too.
    const broken = fs.readFileSync(`${DIR}affinityd.rules.test.yml`, 'utf8').replace('instance: hot:9100', 'instance: balanced:9100');
    fs.writeFileSync(`${tmp}/t.yml`, broken);
    const r = spawnSync('promtool', ['test', 'rules', 't.yml'], { cwd: tmp, encoding: 'utf8' });
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.match(r.stdout + r.stderr, /FAILED/);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});

test('every affinityd_* metric the rules use is one the agent exports', async () => {
  const exported = await new AgentMetrics('t').text();
  const names = new Set(exported.split('\n').filter((l) => l.startsWith('# TYPE ')).map((l) => l.split(' ')[2]!));
  const used = [...new Set(fs.readFileSync(RULES, 'utf8').match(/\baffinityd_[a-z_]+/g) ?? [])];
  assert.ok(used.length >= 4, `rules use ${used.join(', ')}`);
  for (const n of used) assert.ok(names.has(n), `${n} is used by a rule but not exported (exported: ${[...names].join(', ')})`);
});
