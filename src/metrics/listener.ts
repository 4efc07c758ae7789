// metrics/listener — the opt-in exporter: GET /metrics over HTTP ([metrics] listen).
//
// node:http is enough for one read-only endpoint; a framework would add attack surface to a
// root daemon for nothing. Anything but GET/HEAD /metrics is a 404/405; the response is the
// same text the textfile exporter writes.

import * as http from 'node:http';

export interface MetricsListener {
  /** The port actually bound (the configured one). */
  readonly port: number;
  close(): Promise<void>;
}

export class ListenError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
    this.name = 'ListenError';
  }
}

const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** Bind and serve; rejects with a ListenError (EADDRINUSE, EADDRNOTAVAIL, EACCES…) when it cannot bind. */
export function startMetricsListener(host: string, port: number, render: () => Promise<string>): Promise<MetricsListener> {
  const server = http.createServer((req, res) => {
    const url = (req.url ?? '').split('?')[0];
    if (url !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('affinityd: only /metrics is served here\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    render().then(
      (text) => res.writeHead(200, { 'content-type': CONTENT_TYPE }).end(req.method === 'HEAD' ? undefined : text),
      (e: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`affinityd: ${e.message}\n`),
    );
  });
  // A scraper that holds a connection open must not keep the agent from stopping.
  server.keepAliveTimeout = 5_000;
  return new Promise((resolve, reject) => {
    const onError = (e: NodeJS.ErrnoException): void => {
      const shown = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
      const why = e.code === 'EADDRINUSE' ? 'address already in use' : e.code === 'EADDRNOTAVAIL' ? 'no such local address' : e.code === 'EACCES' ? 'permission denied' : e.message;
      reject(new ListenError(`cannot listen on ${shown}: ${why}${e.code ? ` (${e.code})` : ''}`, e.code));
    };
    server.once('error', onError);
    server.listen({ host, port, exclusive: true }, () => {
      server.off('error', onError);
      // The agent's life is its netlink sockets and its pipeline; the listener must not keep
      // a process alive whose start-up failed after it was bound.
      server.unref();
      resolve({
        port,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}
