// metrics/export — the metrics' life cycle in the agent: one AgentMetrics, exported through
// the textfile collector and/or the HTTP listener as [metrics] says, refreshed after each
// pass and on a heartbeat. start() fails only for a listen address that cannot be bound,
// as a PolicyError naming the `listen` line (exit 78): the operator asked for it there.

import * as path from 'node:path';
import { PolicyError } from '../policy/errors.js';
import { FsRoot, PathEscapeError } from '../snapshot/fsroot.js';
import type { Policy } from '../types.js';
import { version } from '../version.js';
import { startMetricsListener, ListenError, type MetricsListener } from './listener.js';
import { AgentMetrics } from './metrics.js';
import { TextfileExporter, type TextfileLog } from './textfile.js';

/** The heartbeat: the textfile outlives the agent, so a fresh timestamp says it still runs. */
export const HEARTBEAT_MS = 30_000;

export interface MetricsExport {
  readonly metrics: AgentMetrics;
  readonly textfile: TextfileExporter | null;
  readonly listener: MetricsListener | null;
  /** Export now (after a pass); never throws. */
  flush(): Promise<void>;
  close(): Promise<void>;
}

export interface MetricsExportOptions {
  root: string;
  metricsPolicy: Policy['metrics'];
  log: TextfileLog;
  heartbeatMs?: number;
}

/**
 * Under --root like the state file, resolved in the root (a fixture's links cannot take the
 * write outside it): a fixture run never writes into the host's /var. A directory whose path
 * escapes the root is a warning and no textfile, like any other unwritable directory.
 */
function textfileIn(root: string, dir: string, render: () => Promise<string>, log: TextfileLog): TextfileExporter | null {
  if (root === '/' || path.resolve(root) === '/') return new TextfileExporter(dir, render, log);
  try {
    return new TextfileExporter(new FsRoot(root).writablePath(dir), render, log);
  } catch (e) {
    if (!(e instanceof PathEscapeError)) throw e;
    log.warn(`metrics textfile directory ${dir}: ${e.message}; no textfile will be written`);
    return null;
  }
}

export async function startMetricsExport(opts: MetricsExportOptions): Promise<MetricsExport> {
  const metrics = new AgentMetrics(version());
  const render = (): Promise<string> => metrics.text();
  const { textfileDirectory: dir, listen } = opts.metricsPolicy;
  const textfile = dir === null ? null : textfileIn(opts.root, dir, render, opts.log);
  let listener: MetricsListener | null = null;
  if (listen !== null) {
    try {
      // A scrape of a live agent is proof of life: renew the heartbeat then, not on a timer.
      listener = await startMetricsListener(listen.host, listen.port, () => {
        metrics.beat();
        return render();
      });
    } catch (e) {
      if (e instanceof ListenError) throw new PolicyError(listen.file, listen.line, 'metrics', 'listen', e.message);
      throw e;
    }
  }
  const flush = async (): Promise<void> => {
    await textfile?.write();
  };
  // The heartbeat exists for the textfile: a file outlives the agent, so "no pass for N
  // minutes while up" needs a time that only a live agent renews. It is the agent's one
  // periodic wake-up; with no textfile (off, or only the listener, whose scrape is itself the
  // liveness signal) there is no timer at all.
  const timer = textfile
    ? setInterval(() => {
        metrics.beat();
        void flush();
      }, opts.heartbeatMs ?? HEARTBEAT_MS)
    : null;
  timer?.unref();
  return {
    metrics,
    textfile,
    listener,
    flush,
    async close() {
      if (timer) clearInterval(timer);
      await textfile?.close();
      await listener?.close();
    },
  };
}
