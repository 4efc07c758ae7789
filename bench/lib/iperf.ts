// bench/lib/iperf — iperf3 in the lab: the server in dst, the client in src pinned to one CPU
// (`taskset -c N`, as the first probe did: the sender's CPU is where an unsteered veth path
// does all its softirq work), and the parsing of `iperf3 -J`.

import type { Cleanup } from './cleanup.js';
import type { Lab } from './lab.js';
import { start, type Tracked } from './procs.js';
import { nsRun } from './sh.js';
import { setTimeout as sleep } from 'node:timers/promises';

export const IPERF_PORT = 5201;

export interface IperfResult {
  streams: number;
  seconds: number;
  /** Receiver-side goodput of all streams together, bits/s. */
  receivedBps: number;
  sentBps: number;
  retransmits: number | null;
  /** iperf3's own CPU figures (host = client, remote = server), percent. */
  clientCpuPct: number | null;
  serverCpuPct: number | null;
}

type Json = Record<string, unknown>;
const obj = (v: unknown): Json | undefined => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : undefined);
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** Parse `iperf3 -J` client output; throws one line when iperf3 reported an error or the shape is wrong. */
export function parseIperfJson(text: string): IperfResult {
  let j: Json | undefined;
  try {
    j = obj(JSON.parse(text));
  } catch {
    throw new Error(`iperf3 -J output is not JSON: ${text.trim().slice(0, 120)}`);
  }
  if (!j) throw new Error('iperf3 -J output is not an object');
  if (typeof j.error === 'string') throw new Error(`iperf3: ${j.error}`);
  const end = obj(j.end);
  const sent = obj(end?.sum_sent);
  const received = obj(end?.sum_received);
  const test = obj(obj(j.start)?.test_start);
  const rx = num(received?.bits_per_second);
  const tx = num(sent?.bits_per_second);
  if (rx === null || tx === null) throw new Error('iperf3 -J output has no end.sum_sent/sum_received bits_per_second');
  const cpu = obj(end?.cpu_utilization_percent);
  return {
    streams: num(test?.num_streams) ?? 0,
    seconds: num(received?.seconds) ?? num(test?.duration) ?? 0,
    receivedBps: rx,
    sentBps: tx,
    retransmits: num(sent?.retransmits),
    clientCpuPct: num(cpu?.host_total),
    serverCpuPct: num(cpu?.remote_total),
  };
}


/** Start `iperf3 -s` in dst and wait until it listens. */
export async function startServer(cleanup: Cleanup, lab: Lab, cpu: number | null = null): Promise<Tracked> {
  const pin = cpu === null ? [] : ['taskset', '-c', String(cpu)];
  const server = start(cleanup, ['ip', 'netns', 'exec', lab.ns.dst, ...pin, 'iperf3', '-s', '-B', lab.serverAddr, '-p', String(IPERF_PORT)], { keepOutput: false });
  for (let i = 0; i < 50; i++) {
    if (!server.alive()) throw new Error(`iperf3 server exited: ${server.stderr().trim()}`);
    if (nsRun(lab.ns.dst, ['ss', '-Hltn', `sport = :${IPERF_PORT}`]).trim() !== '') return server;
    await sleep(100);
  }
  await server.stop();
  throw new Error(`iperf3 server in ${lab.ns.dst} did not listen on :${IPERF_PORT} within 5 s`);
}

/** One client run; resolves with the parsed result. The client is killed if it overruns. */
export async function runClient(cleanup: Cleanup, lab: Lab, o: { streams: number; seconds: number; senderCpu: number }): Promise<IperfResult> {
  const argv = ['ip', 'netns', 'exec', lab.ns.src, 'taskset', '-c', String(o.senderCpu), 'iperf3', '-c', lab.serverAddr, '-p', String(IPERF_PORT), '-t', String(o.seconds), '-P', String(o.streams), '-J'];
  const client = start(cleanup, argv);
  const limitS = o.seconds + 10;
  let timer: NodeJS.Timeout | undefined;
  const overran = await Promise.race([client.exited.then(() => false), new Promise<boolean>((r) => (timer = setTimeout(() => r(true), limitS * 1000)))]);
  clearTimeout(timer);
  if (overran) {
    await client.stop(0);
    throw new Error(`iperf3 client overran ${limitS} s and was killed`);
  }
  const { code } = await client.exited;
  try {
    return parseIperfJson(client.stdout());
  } catch (e) {
    const why = client.stderr().trim().split('\n').pop();
    throw new Error(`${(e as Error).message}${code ? ` (exit ${code}${why ? `: ${why}` : ''})` : ''}`);
  }
}
