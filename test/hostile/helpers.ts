// hostile/helpers — shared pieces of the hostile-input suite (test/hostile/*.test.ts): a small
// fixture machine, a decoy directory OUTSIDE the fixture root whose every byte is
// fingerprinted (a write that escapes --root shows up there), and the CLI runner.
// The suite runs under a V8 heap cap (package.json: --max-old-space-size), so an input that
// makes memory grow without bound fails the run instead of swapping.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import assert from 'node:assert/strict';
import { buildFixture, fixtureTmpDir, presets, removeFixture, type FixtureSpec } from '../../fixture/fixture.js';
import { EXECUTABLE } from '../../src/cli/executable.js';

export const CLI = EXECUTABLE;

/** vm2 (this VM's shape) plus a 2-queue i40e NIC, so plans write IRQs, RPS and XPS. */
export function hostileSpec(): FixtureSpec {
  const spec = presets.vm2();
  spec.nics = [...(spec.nics ?? []), { name: 'ens6', driver: 'i40e', pci: '0000:00:06.0', node: -1, queues: 2, naming: 'i40e', ifindex: 7, mac: '02:fc:00:00:00:07' }];
  return spec;
}

export function fixture(spec: FixtureSpec = hostileSpec()): { root: string; done: () => void } {
  const root = buildFixture(spec);
  return { root, done: () => removeFixture(root) };
}

/** A policy under the root that keeps the state file inside it, plus the shipped defaults. */
export function rootPolicy(root: string, extra = ''): void {
  fs.mkdirSync(path.join(root, 'etc/affinityd'), { recursive: true });
  fs.writeFileSync(path.join(root, 'etc/affinityd/affinityd.ini'), `[agent]\nstate-file = /var/lib/affinityd/state.json\n${extra}`);
}

export interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** The CLI as an operator runs it; a hang is a failure (timeout), never a stuck suite. */
export function cli(args: string[], opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Run {
  const r = spawnSync(process.execPath, ['--max-old-space-size=256', CLI, ...args], {
    encoding: 'utf8',
    timeout: opts.timeoutMs ?? 20_000,
    env: { ...process.env, NOTIFY_SOCKET: '', ...opts.env },
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** stderr must be one line (no stack trace) and is returned. */
export function oneLine(stderr: string): string {
  const lines = stderr.trim().split('\n');
  assert.equal(lines.length, 1, `exactly one line, got:\n${stderr.slice(0, 2000)}`);
  assert.doesNotMatch(stderr, /^\s+at /m, 'no stack trace');
  return lines[0]!;
}

/** A directory outside any fixture root, to be the target of escaping links. */
export function decoy(): { dir: string; fingerprint: () => string; done: () => void } {
  const dir = fs.mkdtempSync(path.join(fixtureTmpDir(), 'affinityd-decoy-'));
  const fingerprint = (): string => {
    const out: string[] = [];
    const walk = (d: string): void => {
      for (const e of fs.readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
        const p = path.join(d, e.name);
        if (e.isDirectory()) walk(p);
        else if (e.isFile()) out.push(`${path.relative(dir, p)}=${fs.readFileSync(p, 'utf8')}`);
        else out.push(`${path.relative(dir, p)} (${e.isSymbolicLink() ? 'link' : 'special'})`);
      }
    };
    walk(dir);
    return out.join('\n');
  };
  return { dir, fingerprint, done: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** No raw control character except newline: what reaches a terminal. */
export function assertPrintable(s: string, what: string): void {
  // eslint-disable-next-line no-control-regex
  const bad = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/.exec(s);
  assert.equal(bad, null, `${what} holds a raw control character U+${bad?.[0].charCodeAt(0).toString(16).padStart(4, '0')}`);
}
