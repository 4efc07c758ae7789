// bench/lib/plots — the three SVG figures of the traffic bench, as vega-lite specs rendered
// headless (vega View with renderer 'none' → toSVG, no browser, no canvas).

import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { CONFIG_LABEL, CONFIGS, type RunRecord, type SummaryRow } from './report.js';

const CONFIG_ORDER = CONFIGS.map((c) => CONFIG_LABEL[c]);

/**
 * (i) Per-CPU softirq load over time, one panel per configuration side by side, the runs of
 * one repeat laid end to end (1, 2, 3, 4 streams): a single hot CPU vs the load spread.
 */
export function timeseriesSpec(runs: RunRecord[], title: string, senderCpu = 0): TopLevelSpec {
  const values: { config: string; t: number; cpu: string; busy: number; streams: number }[] = [];
  const offsets = new Map<string, number>();
  for (const r of runs) {
    const off = offsets.get(r.config) ?? 0;
    for (const p of r.series) values.push({ config: CONFIG_LABEL[r.config], t: off + p.t, cpu: `cpu${p.cpu}`, busy: p.busy * 100, streams: r.streams });
    // One second of blank between runs, so each run's segment stands apart.
    offsets.set(r.config, off + Math.max(r.windowS, ...r.series.map((p) => p.t)) + 1);
  }
  const labels = [...new Set(runs.map((r) => r.config))].flatMap((c) => {
    let off = 0;
    return runs
      .filter((r) => r.config === c)
      .map((r) => {
        const at = off;
        off += Math.max(r.windowS, ...r.series.map((p) => p.t)) + 1;
        return { config: CONFIG_LABEL[c], t: at, label: `P=${r.streams}` };
      });
  });
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: title, subtitle: `one segment per run (P = parallel streams), sender pinned to cpu${senderCpu}` },
    data: { values: [...values, ...labels] },
    facet: { column: { field: 'config', type: 'nominal', sort: CONFIG_ORDER, title: null, header: { labelFontSize: 12 } } },
    spec: {
      width: 300,
      height: 200,
      layer: [
        {
          transform: [{ filter: 'datum.label == null' }],
          mark: { type: 'line', interpolate: 'step-before', strokeWidth: 1.5 },
          encoding: {
            x: { field: 't', type: 'quantitative', title: 'seconds' },
            y: { field: 'busy', type: 'quantitative', title: 'softirq time, % of the CPU', scale: { domain: [0, 100] } },
            color: { field: 'cpu', type: 'nominal', title: 'CPU' },
            detail: { field: 'streams', type: 'ordinal' },
          },
        },
        {
          transform: [{ filter: 'datum.label != null' }],
          mark: { type: 'text', align: 'left', baseline: 'top', dx: 2, dy: 2, fontSize: 10, color: '#555' },
          encoding: { x: { field: 't', type: 'quantitative' }, y: { datum: 100 }, text: { field: 'label' } },
        },
      ],
    },
  };
}

function vsStreams(rows: SummaryRow[], field: 'share' | 'gbps', title: string, yTitle: string, domain?: [number, number]): TopLevelSpec {
  const values = rows.map((r) => ({
    config: CONFIG_LABEL[r.config],
    streams: r.streams,
    y: field === 'share' ? (r.hottestShareMean ?? 0) * 100 : r.gbpsMean,
    lo: field === 'share' ? (r.hottestShareMin ?? 0) * 100 : r.gbpsMin,
    hi: field === 'share' ? (r.hottestShareMax ?? 0) * 100 : r.gbpsMax,
  }));
  const x = { field: 'streams', type: 'ordinal' as const, title: 'parallel TCP streams (iperf3 -P)', axis: { labelAngle: 0 } };
  const color = { field: 'config', type: 'nominal' as const, sort: CONFIG_ORDER, title: 'configuration', legend: { labelLimit: 400 } };
  const y = { field: 'y', type: 'quantitative' as const, title: yTitle, ...(domain ? { scale: { domain } } : {}) };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title,
    width: 420,
    height: 260,
    data: { values },
    layer: [
      { mark: { type: 'line', point: true }, encoding: { x, y, color } },
      { mark: { type: 'rule' }, encoding: { x, y: { field: 'lo', type: 'quantitative' }, y2: { field: 'hi' }, color } },
    ],
  };
}

/** (ii) Hottest CPU's share of all softirq time vs stream count (mean, rule = min–max of repeats). */
export function shareSpec(rows: SummaryRow[], cpus: number): TopLevelSpec {
  return vsStreams(rows, 'share', `Hottest CPU's share of all softirq time (${cpus} CPUs; ${(100 / cpus).toFixed(0)} % = perfectly even)`, 'hottest CPU, % of softirq time', [0, 100]);
}

/** (iii) Receiver goodput vs stream count. */
export function throughputSpec(rows: SummaryRow[]): TopLevelSpec {
  return vsStreams(rows, 'gbps', 'iperf3 throughput through the router namespace', 'Gbit/s (receiver)');
}

export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
