// bench/lib/gateway-plots — the two figures of `npm run bench:gateway` (the seed's Figure 3,
// automated), vega-lite specs rendered headless through plots.ts's renderSvg.

import type { TopLevelSpec } from 'vega-lite';
import { Resvg } from '@resvg/resvg-js';
import { renderSvg } from './plots.js';
import type { SeriesPoint, PhaseSummary } from './gateway.js';

export interface PlotRun {
  config: string;
  streams: number;
  hotAddAtS: number;
  before: PhaseSummary | null;
  after: PhaseSummary | null;
  series: SeriesPoint[];
}

const ORDER = ['kernel', 'irqbalance', 'affinityd'];
const LABEL: Record<string, string> = { kernel: 'kernel defaults', irqbalance: 'irqbalance', affinityd: 'affinityd (shipped policy)' };

/** Per-CPU network-processing load over time, hot-add marked, one panel per configuration. */
export function gatewayTimeseriesSpec(runs: PlotRun[], streams: number): TopLevelSpec {
  const mine = runs.filter((r) => r.streams === streams);
  // A 1 s moving average: single 250 ms intervals hold 0–2 TCG ticks and read as noise.
  const values = mine.flatMap((r) => r.series.map((p) => ({ config: LABEL[r.config] ?? r.config, t: Math.round((p.t - r.hotAddAtS) * 100) / 100, cpu: `cpu${p.cpu}`, load: p.netPct })));
  const marks = mine.map((r) => ({ config: LABEL[r.config] ?? r.config, t: 0, mark: 'vCPUs hot-added' }));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: `Gateway guest, ${streams} forwarded TCP stream${streams > 1 ? 's' : ''}: per-CPU softirq + napi-thread time`, subtitle: '1 vCPU at boot, 2 hot-added at t = 0 while traffic flows (1 s moving average)' },
    data: { values: [...values, ...marks] },
    facet: { column: { field: 'config', type: 'nominal', sort: ORDER.map((c) => LABEL[c]!), title: null, header: { labelFontSize: 12 } } },
    spec: {
      width: 300,
      height: 200,
      layer: [
        {
          transform: [{ filter: 'datum.mark == null' }, { window: [{ op: 'mean', field: 'load', as: 'avg' }], frame: [-3, 0], groupby: ['config', 'cpu'], sort: [{ field: 't' }] }],
          mark: { type: 'line', strokeWidth: 1.5 },
          encoding: {
            x: { field: 't', type: 'quantitative', title: 'seconds from the hot-add' },
            y: { field: 'avg', type: 'quantitative', title: '% of the CPU', scale: { domain: [0, 100] } },
            color: { field: 'cpu', type: 'nominal', title: 'CPU' },
          },
        },
        {
          transform: [{ filter: 'datum.mark != null' }],
          mark: { type: 'rule', strokeDash: [4, 3], color: '#444' },
          encoding: { x: { field: 't', type: 'quantitative' } },
        },
      ],
    },
  };
}

/** Hottest CPU's share of network-processing time against streams, before and after the hot-add. */
export function gatewayShareSpec(runs: PlotRun[]): TopLevelSpec {
  const values = runs.flatMap((r) =>
    (
      [
        ['1 vCPU (before)', r.before],
        ['3 vCPUs (after)', r.after],
      ] as const
    )
      .filter(([, s]) => s?.hottest)
      .map(([phase, s]) => ({ config: LABEL[r.config] ?? r.config, streams: r.streams, phase, share: s!.hottest!.share * 100 })),
  );
  // One panel per phase: before the hot-add every configuration is at 100 % and the lines
  // would hide each other.
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: "Hottest CPU's share of network-processing time (softirq + napi threads)", subtitle: 'dashed: 40 % = 1.2 × the fair share on 3 vCPUs (the target)' },
    data: { values },
    facet: { column: { field: 'phase', type: 'nominal', title: null, header: { labelFontSize: 12 } } },
    spec: {
      width: 300,
      height: 240,
      layer: [
        {
          mark: { type: 'line', point: true },
          encoding: {
            x: { field: 'streams', type: 'ordinal', title: 'parallel TCP streams (iperf3 -P)', axis: { labelAngle: 0 } },
            y: { field: 'share', type: 'quantitative', title: 'hottest CPU, % of network time', scale: { domain: [0, 100] } },
            color: { field: 'config', type: 'nominal', sort: ORDER.map((c) => LABEL[c]!), title: 'configuration', legend: { labelLimit: 400 } },
          },
        },
        { mark: { type: 'rule', strokeDash: [2, 2], color: '#888' }, encoding: { y: { datum: 40 } } },
      ],
    },
  };
}

/** SVG and PNG (resvg, as fleet-plot does: a PNG shows inline wherever the README is read) of each figure. */
export async function gatewayPlots(runs: PlotRun[]): Promise<Record<string, string | Buffer>> {
  const out: Record<string, string | Buffer> = {};
  const add = (name: string, svg: string) => {
    out[`${name}.svg`] = svg;
    out[`${name}.png`] = new Resvg(svg, { fitTo: { mode: 'zoom', value: 2 }, background: 'white' }).render().asPng();
  };
  const streams = [...new Set(runs.map((r) => r.streams))].sort((a, b) => a - b);
  for (const s of streams) add(`softirq-timeseries-P${s}`, await renderSvg(gatewayTimeseriesSpec(runs, s)));
  add('hottest-share', await renderSvg(gatewayShareSpec(runs)));
  return out;
}
