import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { lineChartSvg } from './chart.js';
import type { LayerPlan, StepResult } from './experiment.js';

export interface LayerReport {
  plan: LayerPlan;
  target: string;
  cpusPerReplica: number;
  steps: StepResult[];
  startedAt: string;
  finishedAt: string;
}

const f1 = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : '–');

/** The Markdown table of one layer. */
export function layerTable(report: LayerReport): string {
  const { plan, steps } = report;
  const lines = [
    `### ${plan.service} (${plan.layer}) — ${report.target}, ${report.cpusPerReplica} CPU per replica`,
    '',
    `Load: \`${plan.scenario}\` (open loop); SLO p99 ≤ ${plan.sloP99Ms} ms and no failed or dropped request. Control: \`${plan.control}\` at ${plan.controlRate} req/s, which does not touch ${plan.service}.`,
    '',
    '| replicas | capacity (req/s) | scaling efficiency | control p99 (ms) | control failed | failed during scale-out | s until new replica served | others restarted |',
    '|---|---|---|---|---|---|---|---|',
  ];
  for (const s of steps) {
    const so = s.scaleOut;
    lines.push(
      `| ${s.replicas} | ${s.capacity} | ${s.efficiency.toFixed(2)} | ${f1(s.controlP99Ms)} | ${s.controlFailed} | ${so ? `${so.failed} of ${so.sent}` : '–'} | ${so ? so.secondsUntilTraffic.map(f1).join(', ') : '–'} | ${so ? (so.othersRestarted ? 'yes' : 'no') : '–'} |`,
    );
  }
  return lines.join('\n');
}

/** Writes capacity-<service>.md/.svg per layer, capacity.md with every table, and capacity.json (raw). */
export function writeReports(dir: string, reports: readonly LayerReport[]): string[] {
  mkdirSync(dir, { recursive: true });
  const written: string[] = [];
  for (const r of reports) {
    const first = r.steps[0]?.capacity ?? 0;
    const svg = lineChartSvg(`${r.plan.service} capacity by replicas (${r.target})`, 'replicas', 'requests/s at the SLO', [
      { label: 'measured', color: '#1f77b4', points: r.steps.map((s) => ({ x: s.replicas, y: s.capacity })) },
      {
        label: 'ideal (n × one replica)',
        color: '#999999',
        dashed: true,
        points: r.steps.map((s) => ({ x: s.replicas, y: s.replicas * first })),
      },
    ]);
    writeFileSync(join(dir, `capacity-${r.plan.service}.svg`), svg);
    writeFileSync(
      join(dir, `capacity-${r.plan.service}.md`),
      `${layerTable(r)}\n\n![${r.plan.service} capacity](capacity-${r.plan.service}.svg)\n`,
    );
    written.push(join(dir, `capacity-${r.plan.service}.md`), join(dir, `capacity-${r.plan.service}.svg`));
  }
  const all = [
    '# Capacity experiment',
    '',
    ...reports.flatMap((r) => [layerTable(r), '', `![${r.plan.service}](capacity-${r.plan.service}.svg)`, '']),
  ].join('\n');
  writeFileSync(join(dir, 'capacity.md'), all);
  writeFileSync(join(dir, 'capacity.json'), JSON.stringify(reports, null, 2));
  written.push(join(dir, 'capacity.md'), join(dir, 'capacity.json'));
  return written;
}
