// bench/lib/gateway — the measurement math of `npm run bench:gateway` (pure, no I/O): parsing
// the guest sampler's output, per-CPU network-processing time between samples, phase
// summaries and the time until the load spread after a hot-add.
//
// Network-processing time of a CPU = its softirq ticks (/proc/stat) plus the CPU time of the
// napi/<dev>-N kernel threads that last ran on it: with threaded NAPI the driver poll leaves
// softirq context, and counting softirq alone would call a CPU idle that is busy polling.

/** One sample as the guest sampler (GATEWAY_SAMPLER) prints it. */
export interface GwSample {
  /** Guest wall clock, ms. */
  t: number;
  online: string;
  /** cpu → [softirq ticks, total ticks]. */
  stat: Map<number, { softirq: number; total: number }>;
  /** cpu → NET_RX count. */
  netRx: Map<number, number>;
  /** irq → per-CPU counts (index = CPU column of /proc/interrupts). */
  irqs: Map<number, number[]>;
  /** napi thread pid → ticks (utime + stime) and the CPU it last ran on. */
  napi: Map<number, { ticks: number; cpu: number }>;
}

/**
 * The sampler, a Perl loop (one process for the whole run: forking `cat` every 250 ms in a
 * TCG guest would itself be load on the CPU under test). Arguments: interval ms, max
 * samples, NIC IRQ numbers. Stops early when /tmp/gw.stop exists.
 */
export const GATEWAY_SAMPLER = String.raw`
use strict; use Time::HiRes qw(time sleep);
my ($ms, $max, @irqs) = @ARGV; my %want = map { $_ => 1 } @irqs;
sub slurp { my $f = shift; open(my $h, '<', $f) or return ''; local $/; my $s = <$h>; close $h; return $s // ''; }
$| = 1;
for (my $n = 0; $n < $max && ! -e '/tmp/gw.stop'; $n++) {
  my $out = sprintf("@ %d\n", int(time() * 1000));
  $out .= 'online ' . slurp('/sys/devices/system/cpu/online');
  for (split /\n/, slurp('/proc/stat')) { $out .= "$_\n" if /^cpu\d/; }
  for (split /\n/, slurp('/proc/softirqs')) { $out .= "$_\n" if /^\s*NET_RX:/; }
  for (split /\n/, slurp('/proc/interrupts')) { $out .= "irq $_\n" if /^\s*(\d+):/ && $want{$1}; }
  for my $d (glob('/proc/[0-9]*')) {
    next unless slurp("$d/comm") =~ /^napi\//;
    my $st = slurp("$d/stat"); $st =~ s/^.*\)\s//s; my @f = split /\s+/, $st;
    # fields after "(comm) ": state=0 … utime=11 stime=12 … processor=36
    my ($pid) = $d =~ /(\d+)$/; $out .= "napi $pid " . ($f[11] + $f[12]) . " $f[36]\n";
  }
  print $out;
  sleep($ms / 1000);
}
`;

/**
 * The onliner: what a distribution's udev rule does for hot-added CPUs, as a Perl loop (every
 * 50 ms, no forks) so it costs the CPU under test next to nothing. Arguments: max loops.
 * Logs "<ms> cpuN" per CPU it onlined; stops early when /tmp/gw.stop exists.
 */
export const GATEWAY_ONLINER = String.raw`
use strict; use Time::HiRes qw(time sleep);
my ($max) = @ARGV; $| = 1;
for (my $n = 0; $n < $max && ! -e '/tmp/gw.stop'; $n++) {
  for my $f (glob('/sys/devices/system/cpu/cpu[0-9]*/online')) {
    open(my $h, '<', $f) or next; my $v = <$h>; close $h;
    next unless defined $v && $v =~ /^0/;
    if (open(my $w, '>', $f)) { print $w "1\n"; close $w; my ($c) = $f =~ /(cpu\d+)/; printf("%d %s\n", int(time() * 1000), $c); }
  }
  sleep(0.05);
}
`;

export function parseSamples(text: string): GwSample[] {
  const out: GwSample[] = [];
  let cur: GwSample | undefined;
  for (const line of text.split('\n')) {
    if (line.startsWith('@ ')) {
      cur = { t: Number(line.slice(2)), online: '', stat: new Map(), netRx: new Map(), irqs: new Map(), napi: new Map() };
      out.push(cur);
      continue;
    }
    if (!cur) continue;
    let m: RegExpMatchArray | null;
    if (line.startsWith('online ')) cur.online = line.slice(7).trim();
    else if ((m = line.match(/^cpu(\d+)\s+(.*)$/))) {
      const f = m[2]!.trim().split(/\s+/).map(Number);
      // user nice system idle iowait irq softirq steal …; guest/guest_nice are inside user.
      const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
      cur.stat.set(Number(m[1]), { softirq: f[6] ?? 0, total });
    } else if ((m = line.match(/^\s*NET_RX:\s+(.*)$/))) {
      m[1]!.trim().split(/\s+/).forEach((v, i) => cur!.netRx.set(i, Number(v)));
    } else if ((m = line.match(/^irq\s+(\d+):\s+(.*)$/))) {
      const counts: number[] = [];
      for (const tok of m[2]!.trim().split(/\s+/)) {
        if (!/^\d+$/.test(tok)) break;
        counts.push(Number(tok));
      }
      cur.irqs.set(Number(m[1]), counts);
    } else if ((m = line.match(/^napi (\d+) (\d+) (\d+)$/))) {
      cur.napi.set(Number(m[1]), { ticks: Number(m[2]), cpu: Number(m[3]) });
    }
  }
  // A sample cut off mid-write (the sampler killed) has no CPU lines: drop it.
  return out.filter((s) => s.stat.size > 0);
}

export interface CpuWork {
  cpu: number;
  softirq: number;
  napi: number;
  /** softirq + napi ticks. */
  net: number;
  total: number;
  netRx: number;
}

/** Per-CPU work between two samples; CPUs absent from either (offline) are left out. */
export function workBetween(a: GwSample, b: GwSample): CpuWork[] {
  const napiByCpu = new Map<number, number>();
  for (const [pid, nb] of b.napi) {
    const na = a.napi.get(pid);
    const d = nb.ticks - (na?.ticks ?? nb.ticks);
    if (d > 0) napiByCpu.set(nb.cpu, (napiByCpu.get(nb.cpu) ?? 0) + d);
  }
  const out: CpuWork[] = [];
  for (const [cpu, sb] of [...b.stat].sort((x, y) => x[0] - y[0])) {
    const sa = a.stat.get(cpu);
    if (!sa) continue;
    const softirq = Math.max(0, sb.softirq - sa.softirq);
    const napi = napiByCpu.get(cpu) ?? 0;
    out.push({
      cpu,
      softirq,
      napi,
      net: softirq + napi,
      total: Math.max(0, sb.total - sa.total),
      netRx: Math.max(0, (b.netRx.get(cpu) ?? 0) - (a.netRx.get(cpu) ?? 0)),
    });
  }
  return out;
}

/** The hottest CPU's share of all network-processing time (null: none at all). */
export function hottestShare(work: CpuWork[], key: 'net' | 'netRx' = 'net'): { cpu: number; share: number } | null {
  const sum = work.reduce((a, w) => a + w[key], 0);
  if (sum <= 0) return null;
  const hot = work.reduce((a, w) => (w[key] > a[key] ? w : a));
  return { cpu: hot.cpu, share: hot[key] / sum };
}

export interface PhaseSummary {
  fromS: number;
  toS: number;
  online: string;
  perCpu: (CpuWork & { softirqPct: number; netPct: number })[];
  hottest: { cpu: number; share: number } | null;
  hottestNetRx: { cpu: number; share: number } | null;
  /** irq → per-CPU count deltas. */
  irqDeltas: Record<string, number[]>;
}

/** Summary of the samples in [from, to] (guest ms); null with fewer than 2 samples. */
export function summarizePhase(samples: GwSample[], from: number, to: number, t0: number): PhaseSummary | null {
  const inside = samples.filter((s) => s.t >= from && s.t <= to);
  if (inside.length < 2) return null;
  const a = inside[0]!;
  const b = inside[inside.length - 1]!;
  const work = workBetween(a, b);
  const irqDeltas: Record<string, number[]> = {};
  for (const [irq, cb] of b.irqs) {
    const ca = a.irqs.get(irq) ?? [];
    irqDeltas[String(irq)] = cb.map((v, i) => v - (ca[i] ?? 0));
  }
  return {
    fromS: (a.t - t0) / 1000,
    toS: (b.t - t0) / 1000,
    online: b.online,
    perCpu: work.map((w) => ({ ...w, softirqPct: w.total > 0 ? (100 * w.softirq) / w.total : 0, netPct: w.total > 0 ? (100 * w.net) / w.total : 0 })),
    hottest: hottestShare(work),
    hottestNetRx: hottestShare(work, 'netRx'),
    irqDeltas,
  };
}

export interface SeriesPoint {
  /** Seconds since t0. */
  t: number;
  cpu: number;
  /** Network-processing time, % of the CPU's own time in the interval. */
  netPct: number;
}

/** Per-CPU network-processing load between consecutive samples. */
export function series(samples: GwSample[], t0: number): SeriesPoint[] {
  const out: SeriesPoint[] = [];
  for (let i = 1; i < samples.length; i++) {
    for (const w of workBetween(samples[i - 1]!, samples[i]!)) {
      out.push({ t: (samples[i]!.t - t0) / 1000, cpu: w.cpu, netPct: w.total > 0 ? Math.min(100, (100 * w.net) / w.total) : 0 });
    }
  }
  return out;
}

/**
 * Seconds from `after` (guest ms) to the end of the first window of `windowN` sample
 * intervals, with more than one CPU online, whose hottest CPU's share of network-processing
 * time is at most `limit`; null when none is. A one-interval window would turn TCG's coarse
 * ticks (a tick or two per 250 ms) into noise, so a window spans about a second.
 */
export function timeToSpread(samples: GwSample[], after: number, limit: number, windowN = 4): number | null {
  const idx = samples.findIndex((s) => s.t >= after);
  if (idx < 0) return null;
  for (let i = idx; i + windowN < samples.length; i++) {
    const a = samples[i]!;
    const b = samples[i + windowN]!;
    if (!/[-,]/.test(b.online)) continue;
    const h = hottestShare(workBetween(a, b));
    if (h && h.share <= limit) return (b.t - after) / 1000;
  }
  return null;
}
