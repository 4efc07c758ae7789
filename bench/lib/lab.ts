// bench/lib/lab — the gateway lab: three network namespaces joined by two veth pairs,
//
//   src (iperf3 client)  veth0 ──── veth1  rtr (forwards)  veth2 ──── veth3  dst (iperf3 server)
//   10.77.1.1/24                    10.77.1.2/24            10.77.2.1/24       10.77.2.2/24
//
// with IPv4 forwarding switched on inside the router namespace only. Every veth is created
// directly inside its namespace (`ip -n NS link add … peer … netns NS2`), so nothing ever
// appears in the host namespace and the host's eth0 is never involved. Names carry a fixed
// prefix and the creating PID, so concurrent runs never collide and stale labs can be told apart.

import { run, nsRun } from './sh.js';
import { pidAlive } from './procs.js';
import type { Cleanup } from './cleanup.js';

export const LAB_PREFIX = 'affd-tl';

export interface LabLink {
  ns: string;
  dev: string;
}

export interface Lab {
  tag: string;
  ns: { src: string; rtr: string; dst: string };
  /** All four veth ends. */
  links: LabLink[];
  /** The ends that receive the client → server data: where RPS decides who does the work. */
  receiving: LabLink[];
  serverAddr: string;
  /** rps_cpus of every veth end, keyed "ns-role/dev" (e.g. "rtr/veth1"), as the kernel shows them. */
  readRps(): Record<string, string>;
  /** Write rps_cpus on every veth end ("0" = kernel default, RPS off). */
  setRps(mask: string): void;
  /** Delete the namespaces (and with them the veths); idempotent. */
  teardown(): void;
}

export interface LabOptions {
  /** Unique part of the names; default the PID. */
  tag?: string;
  /**
   * Let the kernel pick ifindexes. By default the lab numbers the veths 11..14 so that no
   * veth's ifindex equals its peer's ifindex in the other namespace: with natural numbering
   * veth0 (src) and veth1 (rtr) are both ifindex 2, and src/snapshot/nics.ts reads
   * "iflink == ifindex" as "software device without a peer" and skips veth1 (see TRAFFIC.md).
   */
  naturalIfindex?: boolean;
}

/** Key of a veth end in readRps(): "<role>/<dev>", e.g. "rtr/veth1". */
export function rpsKey(l: LabLink): string {
  return `${l.ns.slice(l.ns.lastIndexOf('-') + 1)}/${l.dev}`;
}

/** True for an all-zero mask ("0", "00000000,00000000"): RPS off. */
export function maskIsZero(mask: string): boolean {
  return /^[0,]*$/.test(mask.trim());
}

export function labNames(tag: string): Lab['ns'] {
  return { src: `${LAB_PREFIX}-${tag}-src`, rtr: `${LAB_PREFIX}-${tag}-rtr`, dst: `${LAB_PREFIX}-${tag}-dst` };
}

/** Names of existing network namespaces (`ip netns list` prints "name (id: N)"). */
export function listNetns(): string[] {
  return run(['ip', 'netns', 'list'])
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter(Boolean);
}

/** Lab namespaces left by a run whose process is gone (killed with SIGKILL): delete them. */
export function reapStaleLabs(): string[] {
  const re = new RegExp(`^${LAB_PREFIX}-(\\d+)-(src|rtr|dst)$`);
  const reaped: string[] = [];
  for (const ns of listNetns()) {
    const m = re.exec(ns);
    if (!m || pidAlive(Number(m[1]))) continue;
    run(['ip', 'netns', 'del', ns]);
    reaped.push(ns);
  }
  return reaped;
}

export function createLab(cleanup: Cleanup, opts: LabOptions = {}): Lab {
  const tag = opts.tag ?? String(process.pid);
  const ns = labNames(tag);
  const created: string[] = [];
  const teardown = () => {
    const present = new Set(listNetns());
    const errors: string[] = [];
    for (const name of [...created].reverse()) {
      if (!present.has(name)) continue;
      try {
        run(['ip', 'netns', 'del', name]);
      } catch (e) {
        errors.push((e as Error).message);
      }
    }
    created.length = 0;
    if (errors.length) throw new Error(errors.join('; '));
  };
  const forget = cleanup.add(`delete namespaces ${Object.values(ns).join(' ')}`, teardown);
  try {
    for (const name of Object.values(ns)) {
      run(['ip', 'netns', 'add', name]);
      created.push(name);
      run(['ip', '-n', name, 'link', 'set', 'lo', 'up']);
    }
    const idx = (n: number) => (opts.naturalIfindex ? [] : ['index', String(n)]);
    run(['ip', '-n', ns.src, 'link', 'add', 'veth0', ...idx(11), 'type', 'veth', 'peer', 'name', 'veth1', ...idx(12), 'netns', ns.rtr]);
    run(['ip', '-n', ns.rtr, 'link', 'add', 'veth2', ...idx(13), 'type', 'veth', 'peer', 'name', 'veth3', ...idx(14), 'netns', ns.dst]);
    const addr: [string, string, string][] = [
      [ns.src, 'veth0', '10.77.1.1/24'],
      [ns.rtr, 'veth1', '10.77.1.2/24'],
      [ns.rtr, 'veth2', '10.77.2.1/24'],
      [ns.dst, 'veth3', '10.77.2.2/24'],
    ];
    for (const [n, dev, a] of addr) {
      run(['ip', '-n', n, 'addr', 'add', a, 'dev', dev]);
      run(['ip', '-n', n, 'link', 'set', dev, 'up']);
    }
    run(['ip', '-n', ns.src, 'route', 'add', 'default', 'via', '10.77.1.2']);
    run(['ip', '-n', ns.dst, 'route', 'add', 'default', 'via', '10.77.2.1']);
    // Forwarding is a per-namespace sysctl: set inside the router only, the host's is untouched.
    nsRun(ns.rtr, ['sysctl', '-q', '-w', 'net.ipv4.ip_forward=1']);
  } catch (e) {
    teardown();
    forget();
    throw e;
  }

  const links: LabLink[] = [
    { ns: ns.src, dev: 'veth0' },
    { ns: ns.rtr, dev: 'veth1' },
    { ns: ns.rtr, dev: 'veth2' },
    { ns: ns.dst, dev: 'veth3' },
  ];
  const rpsPath = (l: LabLink) => `/sys/class/net/${l.dev}/queues/rx-0/rps_cpus`;
  return {
    tag,
    ns,
    links,
    receiving: [links[1]!, links[3]!],
    serverAddr: '10.77.2.2',
    readRps() {
      const out: Record<string, string> = {};
      for (const l of links) out[rpsKey(l)] = nsRun(l.ns, ['cat', rpsPath(l)]).trim();
      return out;
    },
    setRps(mask) {
      for (const l of links) nsRun(l.ns, ['sh', '-c', `echo ${mask} > ${rpsPath(l)}`]);
    },
    teardown() {
      teardown();
      forget();
    },
  };
}
