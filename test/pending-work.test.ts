// agent/pending-work: what the events since the last pass ask of the next one, for any
// sequence of events and passes (a model check against a plain re-reading of the events).

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { PendingWork, changesTopology } from '../src/agent/pending-work.js';
import type { AgentEvent } from '../src/agent/events.js';
import { runs } from './helpers/runs.js';

const cpuEvent = fc.record({ kind: fc.constant('cpu' as const), action: fc.constantFrom('online' as const, 'offline' as const, 'add' as const, 'remove' as const), cpu: fc.nat(7) });
const otherEvent: fc.Arbitrary<AgentEvent> = fc.oneof(
  fc.constant<AgentEvent>({ kind: 'resync', reason: 'periodic' }),
  fc.constant<AgentEvent>({ kind: 'reload', reason: 'SIGHUP' }),
  fc.constant<AgentEvent>({ kind: 'link', type: 'new', ifindex: 3, ifname: 'eth1', up: true, running: true }),
  fc.constant<AgentEvent>({ kind: 'queues', action: 'add', ifname: 'eth1', queue: 'rx-1' }),
);
// null: a pass takes the work.
const step = fc.oneof({ weight: 4, arbitrary: cpuEvent as fc.Arbitrary<AgentEvent> }, { weight: 2, arbitrary: otherEvent }, { weight: 2, arbitrary: fc.constant(null) });

describe('PendingWork', () => {
  it('hands each pass exactly what the events since the previous pass ask for', () => {
    fc.assert(
      fc.property(fc.array(step, { maxLength: 60 }), (steps) => {
        const pending = new PendingWork();
        let since: AgentEvent[] = [];
        let first = true;
        for (const s of [...steps, null]) {
          if (s !== null) {
            pending.note(s);
            since.push(s);
            continue;
          }
          const work = pending.take();
          assert.equal(work.reload, since.some((e) => e.kind === 'reload'));
          // The first pass reads everything; later ones refresh when only CPUs changed.
          assert.equal(work.refresh, !first && since.every((e) => e.kind === 'cpu'));
          const adds = since.flatMap((e) => (e.kind === 'cpu' && e.action === 'add' ? [e.cpu] : []));
          assert.deepEqual(work.hotAdded, [...new Set(adds)]);
          since = [];
          first = false;
        }
      }),
      { numRuns: runs(300) },
    );
  });

  it('a CPU add or remove and a resync change the topology; online, offline and devices do not', () => {
    assert.deepEqual(
      (['online', 'offline', 'add', 'remove'] as const).map((action) => changesTopology({ kind: 'cpu', action, cpu: 1 })),
      [false, false, true, true],
    );
    assert.equal(changesTopology({ kind: 'resync', reason: 'x' }), true);
    assert.equal(changesTopology({ kind: 'reload', reason: 'x' }), false);
    assert.equal(changesTopology({ kind: 'net', action: 'add', ifname: 'eth1', ifindex: 3 }), false);
  });
});
