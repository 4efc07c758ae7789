// Test harness: a real Prometheus and a real node_exporter on loopback, on ports picked free,
// in a temp dir; stopped by PID (SIGTERM, then SIGKILL after 5 s) and the dir removed.
//
// The binaries are Debian's (`prometheus`, `prometheus-node-exporter`); .ci/run installs them.

import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as path from 'node:path';

export const PROMETHEUS_BIN = 'prometheus';
export const NODE_EXPORTER_BIN = 'prometheus-node-exporter';

/** A loopback TCP port nobody listens on right now. */
export async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

export function httpGet(url: string, timeoutMs = 2000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url}: timed out`)));
    req.on('error', reject);
  });
}

export async function until<T>(what: string, probe: () => Promise<T | null | undefined | false>, ms: number, everyMs = 100): Promise<T> {
  const end = Date.now() + ms;
  let last: unknown = null;
  for (;;) {
    try {
      const v = await probe();
      if (v !== null && v !== undefined && v !== false) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** A process we started; stop() sends SIGTERM to its PID and waits, then SIGKILL. */
export class Proc {
  readonly child: ChildProcess;
  readonly output: string[] = [];
  private exited: Promise<number | null>;

  constructor(readonly name: string, cmd: string, args: string[]) {
    this.child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (b: Buffer) => {
      this.output.push(b.toString());
      if (this.output.length > 200) this.output.shift();
    };
    this.child.stdout!.on('data', keep);
    this.child.stderr!.on('data', keep);
    this.exited = new Promise((r) => {
      this.child.on('exit', (code) => r(code));
      this.child.on('error', (e) => {
        this.output.push(`spawn failed: ${e.message}`);
        r(null);
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null && this.child.pid !== undefined;
  }

  async stop(): Promise<void> {
    if (!this.alive()) return;
    process.kill(this.child.pid!, 'SIGTERM');
    const t = setTimeout(() => {
      if (this.alive()) process.kill(this.child.pid!, 'SIGKILL');
    }, 5000);
    await this.exited;
    clearTimeout(t);
  }

  log(): string {
    return this.output.join('').slice(-2000);
  }
}

export interface PromSample {
  metric: Record<string, string>;
  value: [number, string];
}

export interface TestPrometheus {
  readonly dir: string;
  readonly url: string;
  readonly nodeExporterPort: number;
  query(q: string): Promise<PromSample[]>;
  queryRange(q: string, startS: number, endS: number, stepS: number): Promise<{ metric: Record<string, string>; values: [number, string][] }[]>;
  stop(): Promise<void>;
}

/**
 * node_exporter with only the textfile (reading `textfileDir`) and cpu collectors, and a
 * Prometheus scraping it (job "node") and, when given, the agent's listener (job
 * "affinityd") every second.
 */
export async function startPrometheus(opts: { dir: string; textfileDir: string; agentPort?: number }): Promise<TestPrometheus> {
  const nodePort = await freePort();
  const promPort = await freePort();
  const procs: Proc[] = [];
  const stop = async (): Promise<void> => {
    for (const p of procs.reverse()) await p.stop();
  };
  try {
    const ne = new Proc('node_exporter', NODE_EXPORTER_BIN, [
      `--web.listen-address=127.0.0.1:${nodePort}`,
      '--collector.disable-defaults',
      '--collector.textfile',
      `--collector.textfile.directory=${opts.textfileDir}`,
      '--collector.cpu',
      '--log.level=warn',
    ]);
    procs.push(ne);
    await until('node_exporter /metrics', async () => ne.alive() && (await httpGet(`http://127.0.0.1:${nodePort}/metrics`)).status === 200, 10_000).catch((e: Error) => {
      throw new Error(`${e.message}\n${ne.log()}`);
    });
    const config = path.join(opts.dir, 'prometheus.yml');
    const jobs = [`  - job_name: node\n    static_configs:\n      - targets: ['127.0.0.1:${nodePort}']`];
    if (opts.agentPort !== undefined) jobs.push(`  - job_name: affinityd\n    static_configs:\n      - targets: ['127.0.0.1:${opts.agentPort}']`);
    fs.writeFileSync(config, `global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n${jobs.join('\n')}\n`);
    const prom = new Proc('prometheus', PROMETHEUS_BIN, [
      `--config.file=${config}`,
      `--storage.tsdb.path=${path.join(opts.dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${promPort}`,
      '--log.level=warn',
    ]);
    procs.push(prom);
    const url = `http://127.0.0.1:${promPort}`;
    await until('prometheus /-/ready', async () => prom.alive() && (await httpGet(`${url}/-/ready`)).status === 200, 20_000).catch((e: Error) => {
      throw new Error(`${e.message}\n${prom.log()}`);
    });
    const api = async <T>(p: string): Promise<T> => {
      const r = await httpGet(`${url}${p}`);
      const j = JSON.parse(r.body) as { status: string; data: { result: T }; error?: string };
      if (j.status !== 'success') throw new Error(`prometheus ${p}: ${j.error ?? r.body.slice(0, 200)}`);
      return j.data.result;
    };
    return {
      dir: opts.dir,
      url,
      nodeExporterPort: nodePort,
      query: (q) => api<PromSample[]>(`/api/v1/query?query=${encodeURIComponent(q)}`),
      queryRange: (q, s, e, step) => api(`/api/v1/query_range?query=${encodeURIComponent(q)}&start=${s}&end=${e}&step=${step}`),
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}
