import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { layerChartSvg } from './chart.js';
import type { LayerReport, SkippedLayer, StepResult } from './experiment.js';
import { boundBy, mostlyBoundBy, type Repeated } from './statistics.js';

const f = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : '–');
const pct = (n: number) => (Number.isFinite(n) ? `${Math.round(n * 100)} %` : '–');
const spread = (r: Repeated, digits = 1) =>
  r.values.length === 0 ? '–' : `${f(r.median, digits)} (${f(r.min, digits)}–${f(r.max, digits)})${r.noisy ? ' **noisy**' : ''}`;

/** Efficiency at a step, or why it does not count against the layer. */
function counted(step: StepResult, value: number): string {
  if (!Number.isFinite(value)) return '–';
  return step.bound.by === 'stepped layer' || step.replicas === 1 ? f(value, 2) : `${f(value, 2)} (bound by ${step.bound.by})`;
}

/** What bounded each step and run, from the stored CPU accounting (the rule in statistics.ts, applied at render time). */
export function withBounds(report: LayerReport): LayerReport {
  return {
    ...report,
    steps: report.steps.map((s) => ({
      ...s,
      bound: mostlyBoundBy(s.saturationRuns),
      saturationRuns: s.saturationRuns.map((r) => ({ ...r, bound: boundBy(r.accounting) })),
    })),
  };
}

/** The Markdown of one layer: the figures, what explains them, the live scale-outs. */
export function layerSection(stored: LayerReport): string {
  const report = withBounds(stored);
  const { plan, steps } = report;
  const one = steps[0];
  const quota = Number.isFinite(report.cpusPerReplica) ? `${report.cpusPerReplica} CPU per replica` : 'no CPU quota';
  const lines = [
    `### ${plan.service} (${plan.layer}) — ${report.target}, ${quota}, driver ${report.driver}, measured ${report.startedAt.slice(0, 16).replace('T', ' ')} UTC`,
    '',
    `Load: \`${plan.scenario}\` — ${plan.why}. SLO: p99 ≤ ${plan.sloP99Ms} ms, nothing failed or dropped. Control: \`${plan.control}\` at ${plan.controlRate} req/s, which does not touch ${plan.service}. ` +
      `Every step measured ${report.repeats} times (${report.probeSeconds} s probes, same topology): median (min–max); **noisy** = a repeat more than ±15 % from the median. ${report.capacityNote}.`,
    '',
    '| replicas | saturation req/s | efficiency | SLO capacity req/s | efficiency | control p99 ms | control vs 1 replica | control failed |',
    '|---|---|---|---|---|---|---|---|',
  ];
  for (const s of steps) {
    const control = one ? s.controlP99Ms.median / one.controlP99Ms.median - 1 : Number.NaN;
    lines.push(
      `| ${s.replicas} | ${spread(s.saturation)} | ${counted(s, s.saturationEfficiency)} | ${spread(s.capacity, 0)} | ${counted(s, s.capacityEfficiency)} | ${spread(s.controlP99Ms)} | ${s === one ? '–' : `${control >= 0 ? '+' : ''}${Math.round(control * 100)} %`} | ${s.controlFailed} |`,
    );
  }
  lines.push(
    '',
    `What explains each step (medians over the saturation runs): CPU of each ${plan.service} replica${Number.isFinite(report.cpusPerReplica) ? ' as a share of its quota' : ' in cores'}, each replica's share of the requests, the gateway's CPU, the load driver's, every other service's, and the host's idle CPU.`,
    '',
    `| replicas | ${plan.service} CPU per replica | requests per replica | gateway cores | driver cores | other services cores | host idle | quota throttling /s | bound by |`,
    '|---|---|---|---|---|---|---|---|---|',
  );
  for (const s of steps) {
    const quotaUse = Number.isFinite(report.cpusPerReplica)
      ? s.explained.steppedQuotaUse.map(pct).join(', ')
      : s.saturationRuns[0]!.accounting.stepped.map((r) => `${f(r.cores, 2)}`).join(', ');
    const throttle = f(
      s.saturationRuns.map((r) => r.throttledPerSecond).sort((a, b) => a - b)[Math.floor(s.saturationRuns.length / 2)] ?? Number.NaN,
      0,
    );
    lines.push(
      `| ${s.replicas} | ${quotaUse} | ${s.explained.requestShares.map(pct).join(', ')} | ${f(s.explained.gatewayCores, 2)} | ${f(s.explained.driverCores, 2)} | ${f(s.explained.otherCores, 2)} | ${pct(s.explained.hostIdle)} | ${throttle} | ${s.bound.by}: ${s.bound.detail} |`,
    );
  }
  const outs = steps.filter((s) => s.scaleOut);
  if (outs.length) {
    lines.push('', 'Live scale-outs (under load at 60 % of the previous step, the Node engine following the replicas):', '');
    lines.push('| to replicas | failed during scale-out | s until each new replica served | others restarted |', '|---|---|---|---|');
    for (const s of outs) {
      const o = s.scaleOut!;
      lines.push(
        `| ${s.replicas} | ${o.failed} of ${o.sent} | ${o.secondsUntilTraffic.map((x) => f(x)).join(', ')} | ${o.othersRestarted ? 'yes' : 'no'} |`,
      );
    }
  }
  return lines.join('\n');
}

/** One line per layer for the summary: efficiency at the last step, both measures, and what bounded it. */
export function summaryTable(reports: readonly LayerReport[], skipped: readonly SkippedLayer[] = []): string {
  const lines = [
    '| layer | service | replicas | saturation req/s | saturation efficiency | SLO capacity req/s | SLO efficiency | control p99 change | bound by (last step) |',
    '|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of reports.map(withBounds)) {
    const one = r.steps[0]!;
    const last = r.steps.at(-1)!;
    const control = last.controlP99Ms.median / one.controlP99Ms.median - 1;
    lines.push(
      `| ${r.plan.layer} | ${r.plan.service} | ${r.steps.map((s) => s.replicas).join(' → ')} | ${r.steps.map((s) => f(s.saturation.median, 0)).join(' → ')} | ${counted(last, last.saturationEfficiency)} | ${r.steps.map((s) => f(s.capacity.median, 0)).join(' → ')} | ${counted(last, last.capacityEfficiency)} | ${control >= 0 ? '+' : ''}${Math.round(control * 100)} % | ${last.bound.by} |`,
    );
  }
  for (const s of skipped) lines.push(`| – | ${s.service} | not stepped | – | – | – | – | – | ${s.why} |`);
  return lines.join('\n');
}

/** Writes capacity-<service>.md/.svg per layer, capacity.md with everything, and capacity.json (raw). */
export async function writeReports(
  dir: string,
  reports: readonly LayerReport[],
  intro: string,
  skipped: readonly SkippedLayer[] = [],
): Promise<string[]> {
  mkdirSync(dir, { recursive: true });
  const written: string[] = [];
  for (const r of reports) {
    writeFileSync(join(dir, `capacity-${r.plan.service}.svg`), await layerChartSvg(r));
    writeFileSync(
      join(dir, `capacity-${r.plan.service}.md`),
      `${layerSection(r)}\n\n![${r.plan.service} capacity](capacity-${r.plan.service}.svg)\n`,
    );
    written.push(join(dir, `capacity-${r.plan.service}.md`), join(dir, `capacity-${r.plan.service}.svg`));
  }
  const all = [
    '# Capacity experiment',
    '',
    intro,
    '',
    '## Summary',
    '',
    summaryTable(reports, skipped),
    '',
    ...reports.flatMap((r) => [layerSection(r), '', `![${r.plan.service}](capacity-${r.plan.service}.svg)`, '']),
  ].join('\n');
  writeFileSync(join(dir, 'capacity.md'), all);
  writeFileSync(join(dir, 'capacity.json'), JSON.stringify({ intro, reports, skipped }, null, 2));
  written.push(join(dir, 'capacity.md'), join(dir, 'capacity.json'));
  return written;
}
