import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { layerChartSvg } from './chart.js';
import type { LayerReport, SkippedLayer, StepResult } from './experiment.js';
import { boundBy, median, mostlyBoundBy, type Repeated } from './statistics.js';

const f = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : '–');
const pct = (n: number) => (Number.isFinite(n) ? `${Math.round(n * 100)} %` : '–');
const spread = (r: Repeated, digits = 1) =>
  r.values.length === 0 ? '–' : `${f(r.median, digits)} (${f(r.min, digits)}–${f(r.max, digits)})${r.noisy ? ' **noisy**' : ''}`;

/** Where a stored report's layers ran (reports from before the pinned arrangement ran shared). */
export const placementOf = (r: LayerReport): 'shared' | 'pinned' => r.placement?.name ?? 'shared';
/** A report's file stem: capacity-<service>, with -shared for the shared arrangement beside a pinned one. */
const stem = (r: LayerReport, all: readonly LayerReport[]) =>
  `capacity-${r.plan.service}${placementOf(r) === 'shared' && all.some((o) => o.plan.service === r.plan.service && placementOf(o) === 'pinned') ? '-shared' : ''}`;
const cpuEfficiencyOf = (s: StepResult) => s.cpuEfficiency ?? Number.NaN;

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
    `### ${plan.service} (${plan.layer}) — ${report.target}${report.target === 'containers' ? `, ${placementOf(report)}` : ''}, ${quota}, driver ${report.driver}, measured ${report.startedAt.slice(0, 16).replace('T', ' ')} UTC`,
    '',
    `Load: \`${plan.scenario}\` — ${plan.why}. SLO: p99 ≤ ${plan.sloP99Ms} ms, nothing failed or dropped. Control: \`${plan.control}\` at ${plan.controlRate} req/s, which does not touch ${plan.service}. ` +
      `Saturation: a closed loop with ${plan.saturationConcurrencyPerReplica} calls outstanding per replica. Every step measured ${report.repeats} times (${report.probeSeconds} s probes, same topology): median (min–max); **noisy** = a repeat more than ±15 % from the median. ${report.capacityNote}.`,
    '',
    '| replicas | saturation req/s | efficiency | req per CPU-second | efficiency per CPU-second | SLO capacity req/s | efficiency | control p99 ms | control vs 1 replica | control failed |',
    '|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const s of steps) {
    const control = one ? s.controlP99Ms.median / one.controlP99Ms.median - 1 : Number.NaN;
    const perCpu = s.perCpuSecond ? spread(s.perCpuSecond, 0) : '–';
    lines.push(
      `| ${s.replicas} | ${spread(s.saturation)} | ${counted(s, s.saturationEfficiency)} | ${perCpu} | ${f(cpuEfficiencyOf(s), 2)} | ${spread(s.capacity, 0)} | ${counted(s, s.capacityEfficiency)} | ${spread(s.controlP99Ms)} | ${s === one ? '–' : `${control >= 0 ? '+' : ''}${Math.round(control * 100)} %`} | ${s.controlFailed} |`,
    );
  }
  if (one && one.saturationRuns.length > report.repeats)
    lines.push(
      '',
      `The 1-replica reference: ${one.saturationRuns.length} saturation runs until ${report.repeats} agreed within ±10 % (${one.saturationRuns.map((r) => f(r.throughput, 0)).join(', ')} req/s); the row above is the last ${report.repeats}${one.saturation.spread > 0.1 ? ', and they still spread more than ±10 %: not steady' : ''}.`,
    );
  lines.push(
    '',
    `What explains each step (medians over the saturation runs): CPU of each ${plan.service} replica${Number.isFinite(report.cpusPerReplica) ? ' as a share of its quota' : ' in cores'}, each replica's share of the requests, the gateway's CPU, the load driver's (and, for the Node engine, how much of the run its event loop was busy: near 100 % it could not send calls sooner), every other service's, and the host's idle CPU.`,
    '',
    `| replicas | ${plan.service} CPU per replica | requests per replica | gateway cores | driver cores (event loop busy) | other services cores | host idle | quota throttling /s | bound by |`,
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
    const loops = s.saturationRuns.flatMap((r) => (r.accounting.driverLoop !== undefined ? [r.accounting.driverLoop] : []));
    const driver = `${f(s.explained.driverCores, 2)}${loops.length ? ` (${pct(median(loops))})` : ''}`;
    lines.push(
      `| ${s.replicas} | ${quotaUse} | ${s.explained.requestShares.map(pct).join(', ')} | ${f(s.explained.gatewayCores, 2)} | ${driver} | ${f(s.explained.otherCores, 2)} | ${pct(s.explained.hostIdle)} | ${throttle} | ${s.bound.by}: ${s.bound.detail} |`,
    );
  }
  const outs = steps.filter((s) => s.scaleOut);
  if (outs.length) {
    lines.push('', 'Live scale-outs (under load at 60 % of the previous step, the Node engine following the replicas):', '');
    lines.push('| to replicas | failed during scale-out | s until each new replica served | others restarted |', '|---|---|---|---|');
    for (const s of outs) {
      const o = s.scaleOut!;
      lines.push(
        `| ${s.replicas} | ${o.failed} of ${o.sent}${
          o.failed > 0 && o.errors
            ? ` (${Object.entries(o.errors)
                .map(([kind, count]) => `${kind} ${count}`)
                .join(', ')})`
            : ''
        } | ${o.secondsUntilTraffic.map((x) => f(x)).join(', ')} | ${o.othersRestarted ? 'yes' : 'no'} |`,
      );
    }
  }
  return lines.join('\n');
}

/** One line per layer for the summary: efficiency at the last step, both measures, and what bounded it. */
export function summaryTable(reports: readonly LayerReport[], skipped: readonly SkippedLayer[] = []): string {
  const lines = [
    '| layer | service | replicas | saturation req/s | saturation efficiency | efficiency per CPU-second | SLO capacity req/s | SLO efficiency | control p99 change (worst step) | bound by (last step) |',
    '|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of reports.map(withBounds)) {
    const one = r.steps[0]!;
    const last = r.steps.at(-1)!;
    const worst = Math.max(...r.steps.slice(1).map((s) => s.controlP99Ms.median / one.controlP99Ms.median - 1));
    lines.push(
      `| ${r.plan.layer} | ${r.plan.service} | ${r.steps.map((s) => s.replicas).join(' → ')} | ${r.steps.map((s) => f(s.saturation.median, 0)).join(' → ')} | ${counted(last, last.saturationEfficiency)} (${f(last.saturation.min / (one.saturation.median * last.replicas), 2)}–${f(last.saturation.max / (one.saturation.median * last.replicas), 2)}) | ${f(cpuEfficiencyOf(last), 2)} | ${r.steps.map((s) => f(s.capacity.median, 0)).join(' → ')} | ${counted(last, last.capacityEfficiency)} | ${worst >= 0 ? '+' : ''}${Math.round(worst * 100)} % | ${last.bound.by} |`,
    );
  }
  for (const s of skipped) lines.push(`| – | ${s.service} | not stepped | – | – | – | – | – | ${s.why} |`);
  return lines.join('\n');
}

/**
 * Shared against pinned, for every layer measured both ways: what sharing the host's cores costs a layer's scaling
 * and its neighbours (the control).
 */
export function placementTable(reports: readonly LayerReport[]): string | undefined {
  const both = reports.filter(
    (r) => placementOf(r) === 'shared' && reports.some((o) => o.plan.service === r.plan.service && placementOf(o) === 'pinned'),
  );
  if (both.length === 0) return undefined;
  const lines = [
    '| service | arrangement | saturation req/s | saturation efficiency at the last step | efficiency per CPU-second | control p99 ms | control p99 change (worst step) | bound by (last step) |',
    '|---|---|---|---|---|---|---|---|',
  ];
  for (const shared of both)
    for (const r of [reports.find((o) => o.plan.service === shared.plan.service && placementOf(o) === 'pinned')!, shared].map(withBounds)) {
      const one = r.steps[0]!;
      const last = r.steps.at(-1)!;
      const worst = Math.max(...r.steps.slice(1).map((s) => s.controlP99Ms.median / one.controlP99Ms.median - 1));
      lines.push(
        `| ${r.plan.service} | ${placementOf(r)} | ${r.steps.map((s) => f(s.saturation.median, 0)).join(' → ')} | ${f(last.saturationEfficiency, 2)} | ${f(cpuEfficiencyOf(last), 2)} | ${r.steps.map((s) => f(s.controlP99Ms.median)).join(' → ')} | ${worst >= 0 ? '+' : ''}${Math.round(worst * 100)} % | ${last.bound.by} |`,
      );
    }
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
    const name = stem(r, reports);
    writeFileSync(join(dir, `${name}.svg`), await layerChartSvg(r));
    writeFileSync(join(dir, `${name}.md`), `${layerSection(r)}\n\n![${r.plan.service} capacity](${name}.svg)\n`);
    written.push(join(dir, `${name}.md`), join(dir, `${name}.svg`));
  }
  // The summary is the pinned arrangement's where a layer has one: separate nodes are what a cluster gives a layer.
  const headline = reports.filter(
    (r) => placementOf(r) === 'pinned' || !reports.some((o) => o.plan.service === r.plan.service && placementOf(o) === 'pinned'),
  );
  const comparison = placementTable(reports);
  const all = [
    '# Capacity experiment',
    '',
    intro,
    '',
    '## Summary',
    '',
    summaryTable(headline, skipped),
    '',
    ...(comparison
      ? [
          '## Shared against pinned',
          '',
          "The same layer measured both ways in one session: **shared**, every pod and the driver on both of the host's cores; **pinned**, the stepped layer on CPU 1 and everything else on CPU 0 — an emulation of node separation on one two-core machine (the Docker engine and the kernel's network work still run on either core).",
          '',
          comparison,
          '',
        ]
      : []),
    ...reports.flatMap((r) => [layerSection(r), '', `![${r.plan.service}](${stem(r, reports)}.svg)`, '']),
  ].join('\n');
  writeFileSync(join(dir, 'capacity.md'), all);
  writeFileSync(join(dir, 'capacity.json'), JSON.stringify({ intro, reports, skipped }, null, 2));
  written.push(join(dir, 'capacity.md'), join(dir, 'capacity.json'));
  return written;
}
