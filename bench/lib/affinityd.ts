// bench/lib/affinityd — drive the real affinityd (the built executable) inside the lab's
// namespaces. A netns's /sys/class/net shows only its own interfaces, and `ip netns exec`
// remounts /sys for the command, so affinityd run there sees exactly the lab's veths;
// /proc/interrupts and /proc/irq stay global, which is why every use is preceded by a check
// that the plan made inside the namespace touches no IRQ and no global sysctl.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Cleanup } from './cleanup.js';
import { maskIsZero, rpsKey, type Lab } from './lab.js';
import { start, type Tracked } from './procs.js';
import { nsRun, run } from './sh.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { EXECUTABLE } from '../../src/cli/executable.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const CLI = EXECUTABLE;
export const SHIPPED_POLICY = path.join(REPO, 'etc/affinityd.ini');

/**
 * A private copy of the built CLI (dist/src, package.json, node_modules linked) in `dir`.
 * Several engineers share the tree and `npm run build` starts with `rm -rf dist`: a bench
 * that ran affinityd straight from dist/ died mid-run when that happened. Returns the
 * copy's executable, checked to start.
 */
export function stageCli(dir: string): string {
  const root = path.join(dir, 'affinityd');
  fs.mkdirSync(path.join(root, 'dist'), { recursive: true });
  fs.cpSync(path.join(REPO, 'dist/src'), path.join(root, 'dist/src'), { recursive: true });
  fs.copyFileSync(path.join(REPO, 'package.json'), path.join(root, 'package.json'));
  fs.symlinkSync(path.join(REPO, 'node_modules'), path.join(root, 'node_modules'));
  const cli = path.join(root, path.relative(REPO, EXECUTABLE));
  run(['node', cli, '--version']);
  return cli;
}

/**
 * The shipped policy, unchanged except for [agent] state-file, which points into the lab's
 * temp dir so that neither `apply` nor the agent touches the host's /var/lib/affinityd, and
 * [metrics] textfile-directory = off (the lab's agents would share the host's file).
 */
export function labPolicy(shippedText: string, stateFile: string): string {
  const re = /^state-file\s*=.*$/m;
  if (!re.test(shippedText)) throw new Error(`${SHIPPED_POLICY}: no state-file line to redirect`);
  return shippedText.replace(re, `state-file = ${stateFile}`).replace(/^textfile-directory\s*=.*$/m, 'textfile-directory = off');
}

export function writeLabPolicy(dir: string, ns: string): string {
  const file = path.join(dir, `${ns}.ini`);
  fs.writeFileSync(file, labPolicy(fs.readFileSync(SHIPPED_POLICY, 'utf8'), path.join(dir, `${ns}.state.json`)));
  return file;
}

interface PlanJson {
  irqs: { irq: number; name: string; desired: string | null }[];
  queues: { interface: string; queue: number; kind: string; current: string; desired: string | null }[];
  rpsSockFlowEntries: { desired: number | null };
  warnings: string[];
}

/** affinityd's plan inside `ns`; throws if it would write anything outside the namespace. */
export function planInside(ns: string, config: string, cli = CLI): PlanJson {
  const p = JSON.parse(nsRun(ns, ['node', cli, 'plan', '--json', '--config', config])) as PlanJson;
  const global = p.irqs.filter((i) => i.desired !== null);
  if (global.length) throw new Error(`affinityd in ${ns} would move host IRQs (${global.map((i) => `${i.irq} ${i.name}`).join(', ')}); refusing`);
  if (p.rpsSockFlowEntries.desired !== null) throw new Error(`affinityd in ${ns} would set the global net.core.rps_sock_flow_entries; refusing`);
  return p;
}

export interface Change {
  ns: string;
  target: string;
  old: string;
  new: string;
  trigger: string;
}

/** `applied` audit records from affinityd's JSON-lines output (stderr when there is no journal). */
export function appliedChanges(ns: string, text: string): Change[] {
  const out: Change[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const r = JSON.parse(line) as Record<string, unknown>;
      if (r.kind === 'applied') out.push({ ns, target: String(r.target), old: String(r.old), new: String(r.new), trigger: String(r.trigger ?? '') });
    } catch {
      // a non-JSON log line
    }
  }
  return out;
}

/** One-shot `affinityd apply` inside `ns`. */
export function applyInside(ns: string, config: string, cli = CLI): Change[] {
  planInside(ns, config, cli);
  const r = nsRun(ns, ['sh', '-c', `node ${cli} apply --config ${config} 2>&1`]);
  return appliedChanges(ns, r);
}


/** The agent (`affinityd run`) inside each of `namespaces`; resolves once RPS is on for `lab.receiving`. */
export async function startAgents(cleanup: Cleanup, lab: Lab, namespaces: string[], configs: Map<string, string>, cli = CLI): Promise<Tracked[]> {
  const agents: Tracked[] = [];
  for (const ns of namespaces) {
    const config = configs.get(ns)!;
    planInside(ns, config, cli);
    agents.push(start(cleanup, ['ip', 'netns', 'exec', ns, 'node', cli, 'run', '--config', config]));
  }
  const deadline = Date.now() + 15_000;
  for (;;) {
    const dead = agents.find((a) => !a.alive());
    if (dead) throw new Error(`affinityd agent ${dead.argv[3]} exited: ${dead.stderr().trim().split('\n').pop() ?? ''}`);
    const rps = lab.readRps();
    const off = lab.receiving.filter((l) => maskIsZero(rps[rpsKey(l)] ?? ''));
    if (off.length === 0) return agents;
    if (Date.now() > deadline) throw new Error(`affinityd agents did not turn RPS on for ${off.map((l) => `${l.ns}/${l.dev}`).join(', ')} within 15 s`);
    await sleep(100);
  }
}
