// lab/channel — the host end of the guest's control channel (see lab/guest-init.sh):
// "<id> <base64 script>\n" out, "LAB-DONE <id> <exit code> <base64 output>\n" back, and
// "LAB-READY <boot id>\n" each time the guest (re)boots.

import * as net from 'node:net';
import { LabError, connectUnix } from './step.js';

export interface RunResult {
  code: number;
  out: string;
}

export class GuestChannel {
  private buf = '';
  private nextId = 1;
  private done = new Map<number, RunResult>();
  private readyBoots: string[] = [];
  private waiters: (() => void)[] = [];
  private closed = false;

  private constructor(private readonly sock: net.Socket) {
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => this.onData(d));
    sock.on('close', () => {
      this.closed = true;
      this.wake();
    });
    sock.on('error', () => {});
  }

  static async connect(socketPath: string, timeoutMs = 20_000): Promise<GuestChannel> {
    return new GuestChannel(await connectUnix(socketPath, 'control channel', timeoutMs));
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  private onData(d: string): void {
    this.buf += d;
    let nl: number;
    while ((nl = this.buf.indexOf('\n')) >= 0) {
      const line = this.buf.slice(0, nl);
      this.buf = this.buf.slice(nl + 1);
      const ready = /^LAB-READY (\S+)/.exec(line);
      if (ready) this.readyBoots.push(ready[1]!);
      const m = /^LAB-DONE (\d+) (\d+) ?(\S*)/.exec(line);
      if (m) this.done.set(Number(m[1]), { code: Number(m[2]), out: Buffer.from(m[3] ?? '', 'base64').toString('utf8') });
    }
    this.wake();
  }

  private until<T>(get: () => T | undefined): Promise<T> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const v = get();
        if (v !== undefined) resolve(v);
        else if (this.closed) reject(new LabError('control channel closed (did QEMU exit?)'));
        else this.waiters.push(check);
      };
      check();
    });
  }

  /** The boot id of the next guest boot to report ready (after `afterBoots` earlier ones). */
  ready(afterBoots = 0): Promise<string> {
    return this.until(() => this.readyBoots[afterBoots]);
  }

  get boots(): number {
    return this.readyBoots.length;
  }

  /** Runs a shell script in the guest (as root, in the overlay root) and returns exit code and output. */
  run(script: string): Promise<RunResult> {
    const id = this.nextId++;
    this.sock.write(`${id} ${Buffer.from(script).toString('base64')}\n`);
    return this.until(() => {
      const r = this.done.get(id);
      if (r) this.done.delete(id);
      return r;
    });
  }

  close(): void {
    this.sock.destroy();
  }
}
