// lab/step — time limits and one-line failures for every step of a lab run.
//
// A lab step that hangs (a guest that never boots, a QMP command that never answers) must
// fail the test with one line naming the step, not sit until CI's 90 minutes run out.

import * as fs from 'node:fs';
import * as net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export class LabError extends Error {
  override name = 'LabError';
}

/** Runs fn, failing with "lab: <name>: timed out after N s" when it takes longer than ms. */
export async function step<T>(name: string, ms: number, fn: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new LabError(`lab: ${name}: timed out after ${Math.round(ms / 1000)} s`)), ms);
  });
  try {
    return await Promise.race([fn(), timeout]);
  } catch (e) {
    const msg = (e as Error).message;
    throw msg.startsWith('lab: ') ? e : new LabError(`lab: ${name}: ${msg}`);
  } finally {
    clearTimeout(timer);
  }
}

/** The directory holding package.json, from this file's place in src or dist. */
export function projectRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new LabError('lab: cannot find the project root (package.json)');
    dir = up;
  }
  return dir;
}

/** Connects to a unix socket QEMU is still creating: retries every 100 ms until timeoutMs. */
export async function connectUnix(socketPath: string, what: string, timeoutMs: number): Promise<net.Socket> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await new Promise<net.Socket>((resolve, reject) => {
        const s = net.connect(socketPath);
        s.once('connect', () => resolve(s));
        s.once('error', reject);
      });
    } catch (e) {
      if (Date.now() > deadline) throw new LabError(`${what} ${socketPath}: ${(e as Error).message}`);
      await sleep(100);
    }
  }
}
