// snapshot/softirqs — per-CPU softirq counters (/proc/softirqs) and softirq time
// (/proc/stat), the two views of "one core is drowning in packet processing".

export interface SoftirqCounts {
  cpus: number[];
  /** row label (NET_RX, NET_TX, …) → cpu → count */
  rows: Record<string, Record<number, number>>;
}

/** Parse /proc/softirqs: a CPU header, then "LABEL: n n n" rows for online CPUs only. */
export function parseSoftirqs(text: string): SoftirqCounts {
  const lines = text.split('\n');
  const header = lines.find((l) => l.trim() !== '') ?? '';
  const cpus = header
    .trim()
    .split(/\s+/)
    .map((c) => /^CPU(\d+)$/.exec(c))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]));
  const rows: SoftirqCounts['rows'] = {};
  for (const line of lines.slice(lines.indexOf(header) + 1)) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const label = line.slice(0, colon).trim();
    const values = line.slice(colon + 1).trim().split(/\s+/).filter(Boolean).map(Number);
    const row: Record<number, number> = {};
    cpus.forEach((cpu, k) => {
      const v = values[k];
      if (v !== undefined && Number.isFinite(v)) row[cpu] = v;
    });
    rows[label] = row;
  }
  return { cpus, rows };
}

export interface CpuTimes {
  /** cpu → { softirq, total } in USER_HZ ticks */
  [cpu: number]: { softirq: number; irq: number; total: number };
}

/** Per-CPU times from /proc/stat lines "cpuN user nice system idle iowait irq softirq steal …". */
export function parseProcStat(text: string): CpuTimes {
  const out: CpuTimes = {};
  for (const line of text.split('\n')) {
    const m = /^cpu(\d+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const v = m[2]!.trim().split(/\s+/).map(Number);
    // guest and guest_nice (fields 9, 10) are already counted in user/nice.
    const total = v.slice(0, 8).reduce((a, b) => a + (Number.isFinite(b) ? b : 0), 0);
    out[Number(m[1])] = { irq: v[5] ?? 0, softirq: v[6] ?? 0, total };
  }
  return out;
}
