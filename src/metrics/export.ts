// metrics/export — the metrics' life cycle in the agent: one AgentMetrics, exported through
// the textfile collector and/or the HTTP listener as [metrics] says, refreshed after each
// pass (and on stop: affinityd_up 0). No timer: an idle agent does not wake for metrics.
// start() fails only for a listen address that cannot be bound,
// as a PolicyError naming the `listen` line (exit 78): the operator asked for it there.

import * as path from 'node:path';
import { PolicyError } from '../policy/errors.js';
import { FsRoot, PathEscapeError } from '../snapshot/fsroot.js';
import type { Policy } from '../types.js';
import { version } from '../version.js';
import type { MetricsListener } from './listener.js';
import { AgentMetrics } from './metrics.js';
import { TextfileExporter, type TextfileLog } from './textfile.js';

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
    // Loaded only when asked for: node:http costs an agent 1.7 MB of RSS (issue 14).
    const { startMetricsListener, ListenError } = await import('./listener.js');
    try {
      listener = await startMetricsListener(listen.host, listen.port, render);
    } catch (e) {
      if (e instanceof ListenError) throw new PolicyError(listen.file, listen.line, 'metrics', 'listen', e.message);
      throw e;
    }
  }
  const flush = async (): Promise<void> => {
    await textfile?.write();
  };
  return {
    metrics,
    textfile,
    listener,
    flush,
    async close() {
      // The textfile outlives the agent: it says so (the unit's ExecStopPost= does the same
      // after an exit that never gets here).
      metrics.stopped();
      await flush();
      await textfile?.close();
      await listener?.close();
    },
  };
}
