// bench/lib/fleet-plot — the README's "Running a fleet" figure: a Prometheus range query over
// the end-to-end test's run (test/prometheus-e2e.test.ts with AFFINITYD_FLEET_PLOT=file.png),
// drawn with the same vega-lite pipeline as the traffic bench (renderSvg) and rasterised with
// resvg (a PNG shows inline everywhere a README is read; no browser, no canvas).

import * as fs from 'node:fs';
import { Resvg } from '@resvg/resvg-js';
import type { TopLevelSpec } from 'vega-lite';
import { renderSvg } from './plots.js';

export interface RangeSeries {
  metric: Record<string, string>;
  values: [number, string][];
}

export function fleetSpec(range: RangeSeries[], startS: number): TopLevelSpec {
  const values = range.flatMap((s) =>
    s.values.map(([t, v]) => ({
      t: t - startS,
      v: Number(v),
      target: s.metric.target ?? '?',
      via: s.metric.job === 'node' ? 'node_exporter textfile' : '/metrics listener',
    })),
  );
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: 'affinityd_writes_total{outcome="applied"} as Prometheus scraped it',
      subtitle: 'end-to-end test run: a veth is added, deleted and added again (twice); 1 s scrapes',
    },
    background: 'white',
    data: { values },
    // One panel per way of export: both must show the same steps.
    facet: { row: { field: 'via', type: 'nominal', title: null, header: { labelFontSize: 12, labelAngle: 0, labelAlign: 'left', labelLimit: 300 } } },
    spec: {
      width: 560,
      height: 140,
      mark: { type: 'line', interpolate: 'step-after', strokeWidth: 2 },
      encoding: {
        x: { field: 't', type: 'quantitative', title: 'seconds since the agent started' },
        y: { field: 'v', type: 'quantitative', title: 'applied writes (counter)' },
        color: { field: 'target', type: 'nominal', title: 'target kind' },
      },
    },
  };
}

export async function renderFleetPlot(range: RangeSeries[], startS: number, out: string): Promise<void> {
  const svg = await renderSvg(fleetSpec(range, startS));
  const png = new Resvg(svg, { fitTo: { mode: 'zoom', value: 2 }, background: 'white' }).render().asPng();
  fs.writeFileSync(out, png);
}
