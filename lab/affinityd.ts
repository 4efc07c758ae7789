// lab/affinityd — running this project's affinityd inside a lab guest: the agent in the
// background with its audit records as JSON lines (a guest has no journald), `plan --json`,
// and the check that what the system shows is what the plan wants.
//
// The guest sees the host's tree, so the built CLI is at the same path as on the host.

import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Guest } from './guest.js';
import { projectRoot } from './step.js';
import { EXECUTABLE } from '../src/cli/executable.js';

export const CLI = EXECUTABLE;

/**
 * The shipped unit's `Nice=` (0 without one): the lab runs the agent as systemd would, since
 * under softirq load its priority decides how fast it reacts (bench:gateway).
 */
export function unitNice(): number {
  const unit = fs.readFileSync(path.join(projectRoot(), 'systemd', 'affinityd.service'), 'utf8');
  const m = /^Nice=(-?\d+)\s*$/m.exec(unit);
  return m ? Number(m[1]) : 0;
}

/** One audit record as the agent prints it without a journal. */
export interface LabRecord {
  kind: string;
  time: string;
  msg?: string;
  message?: string;
  target?: string;
  irq?: number;
  interface?: string;
  old?: string;
  new?: string;
  trigger?: string;
  error?: string;
  [k: string]: unknown;
}

export interface PlanJson {
  allowedCpus: string;
  irqs: { irq: number; name: string; interface: string | null; queue: number | null; role: string | null; node: number; current: string | null; desired: string | null; reason: string }[];
  queues: { interface: string; queue: number; kind: 'rps' | 'xps'; current: string | null; desired: string | null }[];
  warnings: string[];
}

/** Shell-quote for the guest's /bin/sh. */
export function q(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

export class LabAgent {
  constructor(
    readonly guest: Guest,
    readonly config = '/tmp/lab.ini',
  ) {}

  async writePolicy(ini: string): Promise<void> {
    await this.guest.sh(`printf '%s' ${q(ini)} > ${this.config}`, 30_000, 'write the policy');
  }

  /**
   * Starts `affinityd run` and waits for its first pass (plan-summary). `nice`: the scheduling
   * niceness the agent runs at, by default the shipped unit's `Nice=` (see unitNice()).
   */
  async start(timeoutMs = 90_000, opts: { nice?: number } = {}): Promise<void> {
    const n = opts.nice ?? unitNice();
    const nice = n !== 0 ? `nice -n ${n} ` : '';
    await this.guest.sh(`: > /tmp/agent.out; : > /tmp/agent.err; setsid ${nice}node ${CLI} run --config ${this.config} > /tmp/agent.out 2> /tmp/agent.err < /dev/null & echo $! > /tmp/agent.pid`, 30_000, 'start the agent');
    await this.guest.waitFor(`grep -q '"plan-summary"' /tmp/agent.out || ! kill -0 $(cat /tmp/agent.pid) 2>/dev/null`, timeoutMs, 'the agent\'s first pass');
    const alive = await this.guest.run('kill -0 $(cat /tmp/agent.pid)');
    if (alive.code !== 0) throw new Error(`agent exited at start: ${(await this.guest.sh('tail -3 /tmp/agent.err; true')).trim()}`);
  }

  async reload(ini: string): Promise<void> {
    await this.writePolicy(ini);
    const before = (await this.records()).filter((r) => r.kind === 'policy-loaded' || r.kind === 'policy-rejected').length;
    await this.guest.sh('kill -HUP $(cat /tmp/agent.pid)');
    // SIGHUP is handled in the next pass, so wait until the agent says it took the policy.
    await this.guest.waitFor(`[ $(grep -c -e '"policy-loaded"' -e '"policy-rejected"' /tmp/agent.out) -gt ${before} ]`, 30_000, 'the policy reload');
  }

  async stop(): Promise<void> {
    await this.guest.run('kill $(cat /tmp/agent.pid) 2>/dev/null; i=0; while kill -0 $(cat /tmp/agent.pid) 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done', 30_000, 'stop the agent');
  }

  async records(): Promise<LabRecord[]> {
    const out = await this.guest.sh('cat /tmp/agent.out', 30_000, 'read the audit records');
    return out
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as LabRecord);
  }

  /**
   * What a failed lab assertion needs beside its own message, in one line: the agent's last
   * log lines, its records by kind (and the failed ones), and the guest console's last lines.
   * Never throws: a guest that stopped answering is itself the news.
   */
  async digest(): Promise<string> {
    const parts: string[] = [];
    try {
      const recs = await this.records();
      const kinds = new Map<string, number>();
      for (const r of recs) kinds.set(r.kind, (kinds.get(r.kind) ?? 0) + 1);
      parts.push(`records: ${[...kinds].map(([k, n]) => `${k}×${n}`).join(' ') || 'none'}`);
      const failed = recs.filter((r) => r.kind === 'failed').slice(0, 3);
      if (failed.length > 0) parts.push(`failed: ${failed.map((r) => `${r.target} ${r.error}`).join('; ')}`);
      const err = (await this.guest.sh('tail -n 3 /tmp/agent.err; true', 15_000, 'read the agent log')).trim();
      if (err !== '') parts.push(`agent log: ${err.replace(/\s+/g, ' ').slice(0, 600)}`);
    } catch (e) {
      parts.push(`guest did not answer: ${(e as Error).message}`);
    }
    parts.push(`console: ${this.guest.consoleTail(3).replace(/\s+/g, ' ').trim().slice(0, 400)}`);
    return parts.join(' | ');
  }

  /** Runs fn; a failure's message gets the digest() appended (CI shows only the message). */
  async explained<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      const err = e as Error;
      err.message = `${err.message} || ${await this.digest()}`;
      throw err;
    }
  }

  /** The agent's operational log (warnings and errors), empty when all went well. */
  async errors(): Promise<string> {
    return (await this.guest.sh('cat /tmp/agent.err', 30_000, 'read the agent log')).trim();
  }

  async plan(config = this.config): Promise<PlanJson> {
    return JSON.parse(await this.guest.sh(`node ${CLI} plan --json --config ${config}`, 120_000, 'affinityd plan --json')) as PlanJson;
  }
}

/** Targets whose current value differs from the plan's (empty: the system is on plan). */
export function offPlan(p: PlanJson): string[] {
  const out: string[] = [];
  for (const i of p.irqs) if (i.desired !== null && i.current !== null && i.current !== i.desired) out.push(`irq ${i.irq} (${i.name}) ${i.current} != ${i.desired}`);
  for (const x of p.queues) if (x.desired !== null && x.current !== x.desired) out.push(`${x.interface} ${x.kind}-${x.queue} ${x.current} != ${x.desired}`);
  return out;
}

/** Guest wall clock minus host wall clock (ms), from one round trip; error ≤ half of it. */
export async function clockOffset(g: Guest): Promise<{ offsetMs: number; rttMs: number }> {
  const t0 = Date.now();
  const guestNs = Number((await g.sh('date +%s%N')).trim());
  const t1 = Date.now();
  return { offsetMs: guestNs / 1e6 - (t0 + t1) / 2, rttMs: t1 - t0 };
}
