// agent/notify — sd_notify(3): READY=1, STATUS=…, WATCHDOG=1 to systemd over the datagram
// socket named by $NOTIFY_SOCKET. Without that variable (run from a terminal) every call is
// a no-op, as in zigbee2mqtt. Node has no AF_UNIX datagram sockets, hence `unix-dgram`.

import { createRequire } from 'node:module';

interface UnixDgramSocket {
  send(buf: Buffer, offset: number, length: number, path: string, cb?: (err?: Error) => void): void;
  on(ev: 'error', cb: (err: Error) => void): void;
  close(): void;
}

export interface Notifier {
  notify(state: string): void;
  /** Watchdog interval in ms requested by systemd (WATCHDOG_USEC), or null. */
  readonly watchdogMs: number | null;
  close(): void;
}

export function createNotifier(env: NodeJS.ProcessEnv = process.env): Notifier {
  const raw = env.NOTIFY_SOCKET;
  const usec = Number(env.WATCHDOG_USEC);
  // WATCHDOG_PID, when set, names the process systemd watches; another PID must stay quiet.
  const watchdogMs = Number.isFinite(usec) && usec > 0 && (!env.WATCHDOG_PID || Number(env.WATCHDOG_PID) === process.pid) ? usec / 1000 : null;
  if (!raw) return { notify: () => undefined, watchdogMs, close: () => undefined };
  // "@name" is a Linux abstract socket: the address starts with a NUL byte.
  const target = raw.startsWith('@') ? `\0${raw.slice(1)}` : raw;
  const require = createRequire(import.meta.url);
  const unix = require('unix-dgram') as { createSocket(type: 'unix_dgram'): UnixDgramSocket };
  const sock = unix.createSocket('unix_dgram');
  // A dead notify socket must never take the agent down with it.
  sock.on('error', () => undefined);
  return {
    notify(state: string) {
      const buf = Buffer.from(state);
      sock.send(buf, 0, buf.length, target);
    },
    watchdogMs,
    close: () => sock.close(),
  };
}
