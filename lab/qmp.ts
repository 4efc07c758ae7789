// lab/qmp — a minimal QEMU Machine Protocol client: JSON lines over a unix socket.
// Replies carry the id of their command; asynchronous events (DEVICE_DELETED, RESET…) are
// kept so a caller can wait for one that arrived before it started waiting.

import * as net from 'node:net';
import { LabError, connectUnix } from './step.js';

export interface QmpEvent {
  event: string;
  data?: Record<string, unknown>;
  timestamp?: { seconds: number; microseconds: number };
}

type Pending = { resolve: (v: unknown) => void; reject: (e: Error) => void };

export class Qmp {
  private buf = '';
  private nextId = 1;
  private pending = new Map<string, Pending>();
  readonly events: QmpEvent[] = [];
  private waiters: (() => void)[] = [];

  private constructor(private readonly sock: net.Socket) {
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => this.onData(d));
    sock.on('close', () => {
      for (const p of this.pending.values()) p.reject(new LabError('QMP connection closed'));
      this.pending.clear();
    });
    sock.on('error', () => {});
  }

  /** Connects (retrying while QEMU creates the socket) and leaves capabilities negotiation done. */
  static async connect(socketPath: string, timeoutMs = 20_000): Promise<Qmp> {
    const q = new Qmp(await connectUnix(socketPath, 'QMP', timeoutMs));
    await q.greeting();
    await q.execute('qmp_capabilities');
    return q;
  }

  private greetingSeen = false;
  private greeting(): Promise<void> {
    return new Promise((resolve) => {
      const check = () => (this.greetingSeen ? resolve() : this.waiters.push(check));
      check();
    });
  }

  private onData(d: string): void {
    this.buf += d;
    let nl: number;
    while ((nl = this.buf.indexOf('\n')) >= 0) {
      const line = this.buf.slice(0, nl).trim();
      this.buf = this.buf.slice(nl + 1);
      if (!line) continue;
      let msg: Record<string, unknown>;
      try {
        msg = JSON.parse(line) as Record<string, unknown>;
      } catch {
        continue;
      }
      if ('QMP' in msg) this.greetingSeen = true;
      else if ('event' in msg) this.events.push(msg as unknown as QmpEvent);
      else if (typeof msg.id === 'string') {
        const p = this.pending.get(msg.id);
        this.pending.delete(msg.id);
        if (p && 'error' in msg) {
          const err = msg.error as { class?: string; desc?: string };
          p.reject(new LabError(`QMP: ${err.desc ?? err.class ?? 'error'}`));
        } else p?.resolve(msg.return);
      }
      const ws = this.waiters.splice(0);
      for (const w of ws) w();
    }
  }

  execute<T = unknown>(command: string, args?: Record<string, unknown>): Promise<T> {
    const id = `c${this.nextId++}`;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.sock.write(JSON.stringify({ execute: command, ...(args ? { arguments: args } : {}), id }) + '\n');
    });
  }

  /** Resolves with the first event (seen already or later) named `name` that `match` accepts. */
  waitEvent(name: string, match: (e: QmpEvent) => boolean = () => true): Promise<QmpEvent> {
    return new Promise((resolve) => {
      const check = () => {
        const hit = this.events.find((e) => e.event === name && match(e));
        if (hit) {
          this.events.splice(this.events.indexOf(hit), 1);
          resolve(hit);
        } else this.waiters.push(check);
      };
      check();
    });
  }

  close(): void {
    this.sock.destroy();
  }
}
