import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { Observable, take, toArray, firstValueFrom } from 'rxjs';
import { resilient } from '../src/agent/agent.js';
import type { AgentEvent } from '../src/agent/events.js';

test('a failed source is logged, re-opened with backoff, and starts again with a resync', async () => {
  let subscriptions = 0;
  const flaky = new Observable<AgentEvent>((sub) => {
    subscriptions++;
    sub.next({ kind: 'cpu', action: 'online', cpu: subscriptions });
    if (subscriptions < 3) sub.error(new Error('socket closed'));
  });
  const lines: string[] = [];
  const log = pino({ base: null }, { write: (l: string) => void lines.push(l) });
  const events = await firstValueFrom(resilient('uevent', flaky, log, () => 1).pipe(take(5), toArray()));
  assert.deepEqual(events, [
    { kind: 'cpu', action: 'online', cpu: 1 },
    { kind: 'resync', reason: 'uevent source re-opened' },
    { kind: 'cpu', action: 'online', cpu: 2 },
    { kind: 'resync', reason: 'uevent source re-opened' },
    { kind: 'cpu', action: 'online', cpu: 3 },
  ]);
  assert.equal(lines.filter((l) => l.includes('uevent source failed: socket closed; retrying')).length, 2);
});
