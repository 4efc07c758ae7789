// The CLI in-process with --json, and a state file where the policy puts it: shared by the
// tests that compare what `plan` shows with what `apply` does (reconcile, reconciler-property).
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { main } from '../../src/cli/main.js';
import { loadPolicy } from '../../src/policy/policy.js';
import { stateFileOf } from '../../src/reconcile/reconciler.js';
import type { AppliedState } from '../../src/state/state.js';

export interface PlanJson {
  irqs: { irq: number; name: string; current: string | null; desired: string | null; reason: string }[];
  queues: { interface: string; queue: number; kind: 'rps' | 'xps'; current: string | null; desired: string | null }[];
  warnings: string[];
}
export interface ApplyJson {
  plan: PlanJson;
  changes: { target: string; old: string; new: string; outcome: string }[];
}

/** Runs the CLI in this process; asserts exit 0 and returns its parsed JSON output. */
export async function cli(...argv: string[]): Promise<unknown> {
  const out: string[] = [];
  const code = await main(argv, (s) => out.push(s));
  assert.equal(code, 0, out.join('\n'));
  return JSON.parse(out.join('\n'));
}

export function writeStateFile(root: string, state: AppliedState): void {
  const file = stateFileOf(root, loadPolicy({ root }));
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify(state));
}
