// ip — iproute2 for tests that create their own veths and namespaces: `ip` fails loudly,
// `tryIp` is for cleanup of what may already be gone.
import { execFileSync } from 'node:child_process';

export function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: 'pipe' });
}

export function tryIp(...args: string[]): void {
  try {
    ip(...args);
  } catch {
    /* already gone */
  }
}
