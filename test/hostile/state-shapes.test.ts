// Class 2 (issue 10): a state file of the right syntax and the wrong shape. Every field is
// checked; a bad file is an empty state plus ONE warning, and nothing downstream (plan, drift,
// apply, the agent's passes) ever meets a null where it expects a record.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { emptyState, readState, validateState, type AppliedState } from '../../src/state/state.js';
import { driftOf } from '../../src/reconcile/drift.js';
import { managedSet, reconcile } from '../../src/reconcile/reconcile.js';
import { plan } from '../../src/planner/planner.js';
import { defaultPolicy } from '../../src/policy/policy.js';
import { takeSnapshot } from '../../src/snapshot/snapshot.js';
import type { Snapshot } from '../../src/types.js';
import { cli, fixture, rootPolicy } from './helpers.js';

const GOOD: AppliedState = {
  version: 1,
  appliedAt: '2026-11-30T10:00:00.000Z',
  trigger: 'apply',
  assignment: { 'eth0/0': 1, 'irq/26': 0 },
  managed: { '36': 'virtio1-req.0' },
  managedSince: { '36': '2026-11-30T10:00:00.000Z' },
  targets: { 'irq/38': '1', 'net/eth0/rx-0/rps': '0-1' },
};

/** Any JSON value (deep enough to reach inside records). */
const json = fc.jsonValue({ maxDepth: 3 });

/** The good state with one field replaced, or an entry of a record replaced, by any JSON value. */
const wrongShape = fc.oneof(
  fc.tuple(fc.constantFrom('version', 'appliedAt', 'trigger', 'assignment', 'managed', 'managedSince', 'targets'), json).map(([field, v]) => ({ ...GOOD, [field]: v }) as unknown),
  fc.tuple(fc.constantFrom('assignment', 'managed', 'managedSince', 'targets'), fc.string({ maxLength: 12 }), json).map(([field, k, v]) => ({ ...GOOD, [field]: { ...(GOOD[field as keyof AppliedState] as object), [k]: v } }) as unknown),
  json,
);

describe('hostile: state files of every wrong shape', () => {
  let root = '';
  let done = () => {};
  let snapshot: Snapshot;
  before(() => {
    ({ root, done } = fixture());
    rootPolicy(root);
    snapshot = takeSnapshot(root);
  });
  after(() => done());

  it('"managed": null, "assignment": null, "targets": null are each an empty state plus one problem', () => {
    const file = path.join(root, 'state.json');
    for (const field of ['managed', 'assignment', 'targets', 'managedSince']) {
      fs.writeFileSync(file, JSON.stringify({ ...GOOD, [field]: null }));
      const { state, problem } = readState(file);
      assert.deepEqual(state, emptyState(), field);
      assert.match(problem ?? '', new RegExp(`"${field}" is null`), field);
    }
  });

  it('generated: readState either returns a fully valid state or an empty one with a problem; nothing downstream throws (fast-check)', () => {
    const file = path.join(root, 'gen-state.json');
    fc.assert(
      fc.property(wrongShape, (v) => {
        fs.writeFileSync(file, JSON.stringify(v) ?? 'null');
        const { state, problem } = readState(file);
        if (problem !== null) assert.deepEqual(state, emptyState());
        else assert.deepEqual(validateState(state), state);
        // What a pass does with a state: none of it may throw.
        driftOf(state, snapshot);
        plan(snapshot, defaultPolicy(), { previous: new Map(Object.entries(state.assignment)), managedIrqs: managedSet(state, snapshot, new Date()) });
      }),
      { numRuns: 400 },
    );
  });

  it('apply with a wrong-shape state: exit 0, one warning line, a valid state written', () => {
    const stateFile = path.join(root, 'var/lib/affinityd/state.json');
    fs.mkdirSync(path.dirname(stateFile), { recursive: true });
    for (const field of ['managed', 'assignment', 'targets']) {
      fs.writeFileSync(stateFile, JSON.stringify({ ...GOOD, [field]: null }));
      const r = cli(['apply', '--root', root, '--json']);
      assert.equal(r.status, 0, r.stderr);
      const warnings = r.stderr.split('\n').filter((l) => l.startsWith('affinityd: warning:'));
      assert.equal(warnings.length, 1, r.stderr);
      assert.match(warnings[0]!, new RegExp(`"${field}" is null`));
      assert.equal(readState(stateFile).problem, null, 'the rewritten state is valid');
    }
  });

  it('the agent pass (reconcile) runs on top of what readState gave back, twice in a row', () => {
    const stateFile = path.join(root, 'agent-state.json');
    fs.writeFileSync(stateFile, '{"version":1,"assignment":{},"managed":null,"targets":null}');
    let { state } = readState(stateFile);
    for (let i = 0; i < 2; i++) state = reconcile({ root, policy: defaultPolicy(), state, trigger: `pass ${i}`, dryRun: true }).state;
  });
});
