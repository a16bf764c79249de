import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import type { LayerReport } from './experiment.js';

/**
 * One SVG per layer, drawn with Vega-Lite (rendered headless by Vega): on the left, saturation throughput and SLO
 * capacity against replicas, each the median of its repeats with a min–max error bar, and the ideal line of each
 * (n × the median of one replica); on the right, the control scenario's p99 with its error bars.
 */
export async function layerChartSvg(report: LayerReport): Promise<string> {
  const { plan, steps } = report;
  const first = steps[0];
  const rows = steps.flatMap((s) => [
    { replicas: s.replicas, measure: 'saturation throughput', median: s.saturation.median, min: s.saturation.min, max: s.saturation.max },
    ...(s.capacity.values.length
      ? [{ replicas: s.replicas, measure: 'SLO capacity', median: s.capacity.median, min: s.capacity.min, max: s.capacity.max }]
      : []),
  ]);
  const ideal = steps.flatMap((s) => [
    {
      replicas: s.replicas,
      measure: 'ideal (saturation)',
      value: first ? (first.saturation.median * s.replicas) / first.replicas : Number.NaN,
    },
    ...(first?.capacity.values.length
      ? [{ replicas: s.replicas, measure: 'ideal (SLO)', value: (first.capacity.median * s.replicas) / first.replicas }]
      : []),
  ]);
  const control = steps.map((s) => ({
    replicas: s.replicas,
    median: s.controlP99Ms.median,
    min: s.controlP99Ms.min,
    max: s.controlP99Ms.max,
  }));
  const x = {
    field: 'replicas',
    type: 'quantitative' as const,
    title: `${plan.service} replicas`,
    scale: { domain: [0, Math.max(...steps.map((s) => s.replicas)) + 0.5] },
    axis: { values: steps.map((s) => s.replicas) },
  };
  const color = {
    field: 'measure',
    type: 'nominal' as const,
    title: null,
    scale: {
      domain: ['saturation throughput', 'SLO capacity', 'ideal (saturation)', 'ideal (SLO)'],
      range: ['#1f77b4', '#ff7f0e', '#9ecae1', '#fdd0a2'],
    },
    legend: { orient: 'top-left' as const, labelLimit: 240 },
  };
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: `${plan.service} (${plan.layer}): capacity by replicas — ${report.target}, driver ${report.driver}`,
      subtitle: `${plan.scenario}; medians of ${report.repeats} repeats, bars min–max; SLO p99 ≤ ${plan.sloP99Ms} ms`,
    },
    config: { font: 'sans-serif', view: { stroke: null } },
    hconcat: [
      {
        width: 380,
        height: 260,
        layer: [
          {
            data: { values: ideal },
            mark: { type: 'line', strokeDash: [6, 4] },
            encoding: { x, y: { field: 'value', type: 'quantitative', title: 'requests/s' }, color },
          },
          {
            data: { values: rows },
            mark: { type: 'line', point: true },
            encoding: { x, y: { field: 'median', type: 'quantitative', title: 'requests/s' }, color },
          },
          {
            data: { values: rows },
            mark: { type: 'errorbar', ticks: true },
            encoding: { x, y: { field: 'min', type: 'quantitative', title: 'requests/s' }, y2: { field: 'max' }, color },
          },
        ],
      },
      {
        width: 200,
        height: 260,
        title: `control: ${plan.control} p99`,
        data: { values: control },
        layer: [
          {
            mark: { type: 'line', point: true, color: '#2ca02c' },
            encoding: { x, y: { field: 'median', type: 'quantitative', title: 'ms', scale: { zero: true } } },
          },
          {
            mark: { type: 'errorbar', ticks: true, color: '#2ca02c' },
            encoding: { x, y: { field: 'min', type: 'quantitative', title: 'ms' }, y2: { field: 'max' } },
          },
        ],
      },
    ],
  };
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  return view.toSVG();
}
