// bench/lib/sh — run a command synchronously and fail with one line naming the command and
// its stderr (the lab's setup steps are a dozen short `ip`/`sysctl` calls).

import { spawnSync } from 'node:child_process';

export class CommandError extends Error {}

export function run(argv: string[], opts: { input?: string; timeoutMs?: number } = {}): string {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', input: opts.input, timeout: opts.timeoutMs ?? 30_000 });
  if (r.error) throw new CommandError(`${argv.join(' ')}: ${r.error.message}`);
  if (r.status !== 0) {
    const why = (r.stderr || r.stdout || '').trim().split('\n').pop() ?? '';
    throw new CommandError(`${argv.join(' ')}: exit ${r.status ?? r.signal}${why ? `: ${why}` : ''}`);
  }
  return r.stdout;
}

/** The same command inside a network namespace (`ip netns exec` also remounts /sys for it). */
export function nsRun(ns: string, argv: string[], opts: { input?: string; timeoutMs?: number } = {}): string {
  return run(['ip', 'netns', 'exec', ns, ...argv], opts);
}

export function has(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).status === 0;
}
