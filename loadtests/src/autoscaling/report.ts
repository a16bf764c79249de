import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { repeated } from '../capacity/statistics.js';
import type { RampResult } from './ramp-run.js';

/**
 * The run over time, four panels on one time axis (Vega-Lite, rendered headless by Vega): offered and answered
 * requests/s; every layer's replicas; p99 per second against the SLO; the autoscaled service's CPU utilization against
 * its HPA's target.
 */
export async function rampChartSvg(result: RampResult, sloP99Ms: number): Promise<string> {
  const t = { field: 't', type: 'quantitative' as const, title: 's since the ramp began' };
  const load = result.timeline.flatMap((p) => [
    { t: p.t, series: 'offered', value: p.offered },
    { t: p.t, series: 'answered', value: p.answered },
  ]);
  const replicas = result.timeline.flatMap((p) => Object.entries(p.replicas).map(([service, count]) => ({ t: p.t, service, count })));
  const latency = result.timeline.filter((p) => !Number.isNaN(p.p99Ms)).map((p) => ({ t: p.t, p99: p.p99Ms }));
  const cpu = result.timeline.filter((p) => p.utilization !== undefined).map((p) => ({ t: p.t, utilization: p.utilization }));
  const panel = (title: string, layer: TopLevelSpec[]) => ({ width: 640, height: 130, title, layer });
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: `${result.plan.service} autoscaling itself — ${result.subject}`,
      subtitle: `${result.plan.scenarioName}: ${result.plan.ramp.from} → ${result.plan.ramp.to} req/s over ${result.plan.rampSec} s, ${result.plan.holdSec} s at ${result.plan.ramp.to}, then ${result.plan.quietRate} req/s`,
    },
    config: { font: 'sans-serif', view: { stroke: null } },
    // Each panel its own colours and legend: the load's series are not layers.
    resolve: { scale: { color: 'independent', strokeDash: 'independent' }, legend: { color: 'independent' } },
    vconcat: [
      panel('requests/s', [
        {
          data: { values: load },
          mark: { type: 'line', interpolate: 'step-after' },
          encoding: {
            x: t,
            y: { field: 'value', type: 'quantitative', title: 'req/s' },
            color: { field: 'series', type: 'nominal', title: null },
          },
        },
      ] as never),
      panel('replicas (desired) of every layer', [
        {
          data: { values: replicas },
          mark: { type: 'line', interpolate: 'step-after' },
          encoding: {
            x: t,
            y: { field: 'count', type: 'quantitative', title: 'replicas', scale: { zero: true }, axis: { tickMinStep: 1 } },
            color: { field: 'service', type: 'nominal', title: null },
            strokeDash: { field: 'service', type: 'nominal', title: null },
          },
        },
      ] as never),
      panel(`p99 per second (SLO ${sloP99Ms} ms)`, [
        {
          data: { values: latency },
          mark: { type: 'line', color: '#d62728' },
          encoding: { x: t, y: { field: 'p99', type: 'quantitative', title: 'ms' } },
        },
        {
          data: { values: [{ slo: sloP99Ms }] },
          mark: { type: 'rule', strokeDash: [6, 4], color: '#999' },
          encoding: { y: { field: 'slo', type: 'quantitative' } },
        },
      ] as never),
      panel(`${result.plan.service} CPU, % of request (HPA target ${result.target} %)`, [
        {
          data: { values: cpu },
          mark: { type: 'line', interpolate: 'step-after', color: '#9467bd' },
          encoding: { x: t, y: { field: 'utilization', type: 'quantitative', title: '% of request' } },
        },
        {
          data: { values: [{ target: result.target }] },
          mark: { type: 'rule', strokeDash: [6, 4], color: '#999' },
          encoding: { y: { field: 'target', type: 'quantitative' } },
        },
      ] as never),
    ],
  } as unknown as TopLevelSpec;
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  return view.toSVG();
}

const ms = (v: number) => (Number.isFinite(v) ? v.toFixed(0) : '–');

/** A run's section of reports/autoscaling.md: what scaled when, latency and failures per phase, the other layers. */
export function rampSection(result: RampResult, chartFile: string, sloP99Ms: number): string {
  const { service, floor } = result.plan;
  const ours = result.steps.filter((s) => s.service === service);
  const others = result.steps.filter((s) => s.service !== service);
  const peakOffered = (phase: string) => Math.max(0, ...result.timeline.filter((p) => p.phase === phase).map((p) => p.offered));
  const rows = (['ramp', 'hold', 'quiet'] as const).map((name) => {
    const r = result.phases[name];
    return `| ${name} | ${name === 'ramp' ? `${result.plan.ramp.from} → ${result.plan.ramp.to}` : peakOffered(name).toFixed(0)} | ${r.scheduled} | ${r.completed} | ${r.failed} | ${r.dropped} | ${ms(r.latencyMs.p50)} | ${ms(r.latencyMs.p99)} |`;
  });
  return [
    `### ${result.subject}`,
    '',
    `![${service} scaling itself: load, replicas, p99, CPU](${chartFile})`,
    '',
    `| scale step of ${service} | at (s after the ramp began) | offered then (req/s) |`,
    '|---|---|---|',
    ...(ours.length
      ? ours.map(
          (s) => `| ${s.from} → ${s.to} | ${s.t} | ${result.timeline.find((p) => p.t >= Math.floor(s.t))?.offered.toFixed(0) ?? '–'} |`,
        )
      : ['| none | – | – |']),
    '',
    `Back at its floor (${floor}) ${result.backToFloorSec === undefined ? '**not** within the quiet phase' : `${result.backToFloorSec} s after the load fell`}. ` +
      `Every other layer: ${
        others.length === 0
          ? `kept its declared replicas the whole run (${Object.entries(result.declared)
              .map(([s, n]) => `${s} ${n}`)
              .join(', ')})`
          : `**changed**: ${others.map((s) => `${s.service} ${s.from} → ${s.to} at ${s.t} s`).join(', ')}`
      }.`,
    '',
    `| phase | req/s | scheduled | ok | failed | dropped | p50 ms | p99 ms (SLO ${sloP99Ms}) |`,
    '|---|---|---|---|---|---|---|---|',
    ...rows,
    '',
  ].join('\n');
}

/** The figures each run gives, and their median and range over the runs (what a reader may quote). */
export function repeatsSection(runs: readonly RampResult[]): string {
  const service = runs[0]!.plan.service;
  const ups = (r: RampResult) => r.steps.filter((s) => s.service === service && s.to > s.from);
  const most = Math.max(...runs.map((r) => ups(r).length));
  const offeredAt = (r: RampResult, t: number) => r.timeline.find((p) => p.t >= Math.floor(t))?.offered ?? Number.NaN;
  const rows: [string, (r: RampResult) => number][] = [
    ...Array.from({ length: most }, (_, i): [string, (r: RampResult) => number][] => [
      [`scale-up ${i + 1}: s after the ramp began`, (r) => ups(r)[i]?.t ?? Number.NaN],
      [`scale-up ${i + 1}: req/s offered then`, (r) => (ups(r)[i] ? offeredAt(r, ups(r)[i]!.t) : Number.NaN)],
    ]).flat(),
    ['peak replicas', (r) => Math.max(r.plan.floor, ...ups(r).map((s) => s.to))],
    ['back at the floor: s after the load fell', (r) => r.backToFloorSec ?? Number.NaN],
    ['p99 ms, ramp', (r) => r.phases.ramp.latencyMs.p99],
    ['p99 ms, hold', (r) => r.phases.hold.latencyMs.p99],
    ['failed or dropped', (r) => Object.values(r.phases).reduce((n, p) => n + p.failed + p.dropped, 0)],
    ['scale steps of other layers', (r) => r.steps.filter((s) => s.service !== service).length],
  ];
  const cell = (v: number) => (Number.isFinite(v) ? (Number.isInteger(v) ? String(v) : v.toFixed(1)) : '–');
  return [
    `| ${runs.length} runs | ${runs.map((_, i) => `run ${i + 1}`).join(' | ')} | median (min–max) |`,
    `|---|${runs.map(() => '---|').join('')}---|`,
    ...rows.map(([name, of]) => {
      const r = repeated(runs.map(of));
      return `| ${name} | ${runs.map((run) => cell(of(run))).join(' | ')} | ${cell(r.median)} (${cell(r.min)}–${cell(r.max)}) |`;
    }),
    '',
  ].join('\n');
}
