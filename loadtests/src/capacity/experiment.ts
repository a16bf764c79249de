import { readReplicaSample } from '@strata/console';
import { loadScenarios, type Scenario, type ScenarioContext } from '../scenarios.js';
import { hostIdleShare, readHostCpu, type HostCpu } from './accounting.js';
import type { DriverResult, LoadDriver } from './drivers.js';
import { findCapacity, probePasses, type ProbeRecord } from './search.js';
import {
  boundBy,
  efficiency,
  median,
  mostlyBoundBy,
  repeated,
  requestShares,
  type Bound,
  type CpuAccounting,
  type Repeated,
} from './statistics.js';
import type { ExperimentTarget, Placement, ReplicaHandle, ScaleOut } from './targets.js';

const scenarios: Record<string, Scenario> = await loadScenarios();

/** What is stepped, what it is measured with, and what must not move (from apps/<name>/service.json `capacity`). */
export interface LayerPlan {
  service: string;
  layer: 'leaf' | 'composite' | 'edge';
  /** The scenario this layer limits. */
  scenario: string;
  /** A scenario that does not touch this layer; its p99 must not degrade as the layer scales. */
  control: string;
  controlRate: number;
  sloP99Ms: number;
  /** First rate of the SLO search when no saturation figure is known yet. */
  startRate: number;
  /** Requests outstanding per replica of the stepped layer when its saturation throughput is measured. */
  saturationConcurrencyPerReplica: number;
  /** CPU quota of one replica of the stepped layer (containers). */
  cpusPerReplica: number;
  /** Why this scenario is limited by this layer. */
  why: string;
}

export interface ExperimentSettings {
  steps: number[];
  /** Fresh measurements of every step (saturation, SLO search, control), on the same topology. */
  repeats: number;
  probeSeconds: number;
  /** Bisection rounds of the SLO search after the first failing rate. */
  refinements: number;
  /** Skip the SLO search (the CI smoke measures saturation and the control only). */
  skipSlo?: boolean;
  /** Repeat the first step's saturation runs until they agree within ±10 % (the reference; not in the smoke). */
  steadyReference?: boolean;
  /** Runs every measured probe. */
  driver: LoadDriver;
  /** Runs the load during a live scale-out: a driver that follows the replicas (the Node engine). */
  scaleOutDriver: LoadDriver;
  log: (line: string) => void;
  /** Lines for the live page (what is being measured now). */
  status?: (lines: string[]) => void;
}

/** One repeat of a step's saturation run, with what explains it. */
export interface SaturationRun {
  throughput: number;
  p99Ms: number;
  failed: number;
  accounting: CpuAccounting;
  /** CPU quota throttling of the stepped layer: throttled periods per second, summed over its replicas (containers). */
  throttledPerSecond: number;
  bound: Bound;
}

export interface StepResult {
  replicas: number;
  saturation: Repeated;
  saturationEfficiency: number;
  /**
   * Requests per CPU-second the stepped replicas actually used, per saturation run: what one request costs the layer,
   * which quota noise (a replica given less CPU than its quota in some run) does not move.
   */
  perCpuSecond: Repeated;
  /** `perCpuSecond` against the 1-replica figure (1 = each request costs what it did at one replica). */
  cpuEfficiency: number;
  saturationRuns: SaturationRun[];
  /** Requests that failed in the warm-up windows before the saturation runs (not measured, but still failures). */
  warmUpFailed: number;
  /** Highest open-loop rate that met the SLO, per repeat (empty when skipped). */
  capacity: Repeated;
  capacityEfficiency: number;
  searches: ProbeRecord[][];
  controlP99Ms: Repeated;
  /** The control's median latency: what the CI smoke holds (its p99 over a few seconds is the worst of ~100 calls). */
  controlP50Ms: Repeated;
  controlFailed: number;
  /** The bound most repeats ended on. */
  bound: Bound;
  /** Medians over the repeats, for the report. */
  explained: {
    steppedQuotaUse: number[];
    requestShares: number[];
    gatewayCores: number;
    driverCores: number;
    otherCores: number;
    hostIdle: number;
  };
  /** `errors` by kind: absent in runs before 2026-12-04. */
  scaleOut?: { sent: number; failed: number; errors?: Record<string, number>; secondsUntilTraffic: number[]; othersRestarted: boolean };
}

/** The reference (1-replica) saturation figure is steady when its repeats lie within ±10 % of their median. */
export const STEADY_SPREAD = 0.1;

/** Requests the layer completed per CPU-second its replicas used, in one saturation run. */
export function perCpuSecondOf(run: SaturationRun): number {
  const cores = run.accounting.stepped.reduce((sum, r) => sum + r.cores, 0);
  return cores > 0 ? run.throughput / cores : Number.NaN;
}

let requestIndex = 0;
const nextIndex = () => (requestIndex += 1_000_000);

interface Snapshot {
  at: number;
  host: HostCpu;
  replicas: Map<string, { cpu: number; requests: number; throttled: number }>;
}

/** CPU seconds of a replica: from its cgroup or process where the target reads them, else from its own metrics. */
async function replicaReading(r: ReplicaHandle): Promise<{ cpu: number; requests: number; throttled: number }> {
  let cpu = r.cpuSeconds();
  let requests = Number.NaN;
  if (r.metricsUrl) {
    try {
      const sample = readReplicaSample(await (await fetch(r.metricsUrl, { signal: AbortSignal.timeout(2_000) })).text());
      requests = sample.requests;
      if (!Number.isFinite(cpu)) cpu = sample.cpuSeconds;
    } catch {
      // unreadable this time: the figure stays NaN
    }
  }
  return { cpu, requests, throttled: r.throttledPeriods?.() ?? Number.NaN };
}

async function snapshot(target: ExperimentTarget): Promise<Snapshot> {
  const all = target.services().flatMap((s) => target.replicas(s));
  const readings = await Promise.all(all.map(async (r) => [`${r.service}/${r.id}`, await replicaReading(r)] as const));
  return { at: performance.now(), host: readHostCpu(), replicas: new Map(readings) };
}

/** What every process used between two snapshots, as cores. */
function account(
  target: ExperimentTarget,
  stepped: string,
  before: Snapshot,
  after: Snapshot,
  driver: { cpuSeconds: number; eventLoopUtilization?: number },
): { accounting: CpuAccounting; throttledPerSecond: number } {
  const seconds = (after.at - before.at) / 1000;
  const delta = (r: ReplicaHandle) => {
    const a = before.replicas.get(`${r.service}/${r.id}`);
    const b = after.replicas.get(`${r.service}/${r.id}`);
    return {
      cores: a && b ? (b.cpu - a.cpu) / seconds : Number.NaN,
      requests: a && b ? b.requests - a.requests : Number.NaN,
      throttled: a && b ? b.throttled - a.throttled : Number.NaN,
    };
  };
  const steppedReplicas = target.replicas(stepped);
  const fixed = target
    .services()
    .filter((s) => s !== stepped)
    .map((service) => {
      const replicas = target.replicas(service);
      return {
        service,
        cores: replicas.reduce((sum, r) => sum + delta(r).cores, 0),
        quota: replicas.reduce((sum, r) => sum + r.quota, 0),
      };
    });
  const throttled = steppedReplicas.reduce((sum, r) => sum + delta(r).throttled, 0);
  return {
    accounting: {
      stepped: steppedReplicas.map((r) => ({ id: r.id, quota: r.quota, ...delta(r) })),
      fixed,
      driverCores: driver.cpuSeconds / seconds,
      ...(driver.eventLoopUtilization !== undefined ? { driverLoop: driver.eventLoopUtilization } : {}),
      hostIdle: hostIdleShare(before.host, after.host),
      hostCores: after.host.cores,
      ...(target.placement.name === 'pinned'
        ? { fixedNode: { cpus: target.placement.fixed, idle: hostIdleShare(before.host, after.host, target.placement.fixed) } }
        : {}),
    },
    throttledPerSecond: throttled / seconds,
  };
}

/** Runs one probe with the experiment's driver, while telling the log and the live page. */
async function drive(
  settings: ExperimentSettings,
  target: ExperimentTarget,
  ctx: ScenarioContext,
  name: string,
  load: { seconds: number; rate?: number; concurrency?: number },
  driver = settings.driver,
  label?: string,
): Promise<DriverResult> {
  const scenario = scenarios[name];
  if (!scenario) throw new Error(`no scenario named ${name}`);
  return driver.run(
    {
      scenarioName: name,
      scenario,
      context: ctx,
      seconds: load.seconds,
      rate: load.rate,
      concurrency: load.concurrency,
      startIndex: nextIndex(),
      onProgress: label ? (line) => settings.log(`      ${label}: ${line}`) : undefined,
    },
    target,
  );
}

/** What a live scale-out measured: the load it ran under, and each new replica's first call. */
export interface ScaleUnderLoad {
  sent: number;
  failed: number;
  /** Seconds from the change to every new replica ready. */
  readySeconds: number;
  /** Per new replica, seconds from ready to its first served call (NaN if none within 15 s). */
  traffic: number[];
  /** Every failure by its kind (gRPC status name, HTTP status, network error), over the whole load. */
  errors: Record<string, number>;
}

/**
 * Makes a change (a scale-out) 2 s into 16 s of load, and keeps the load going, 5 s more at a time (at most 25 s),
 * while a new replica has not served and its 15 s from ready have not run out: on a slow host a replica can take most
 * of the first 16 s to become ready, and a watch with no load behind it would report it as never served (measured
 * 2026-12-04: catalog at 0.25 CPU, orders and pricing at 0.15, ready 20 s after the change).
 */
export async function scaleUnderLoad(
  load: (seconds: number) => Promise<DriverResult>,
  change: () => Promise<ScaleOut>,
): Promise<ScaleUnderLoad> {
  const first = load(16);
  await new Promise((r) => setTimeout(r, 2_000));
  const asked = performance.now();
  const scaled = await change();
  const readySeconds = (performance.now() - asked) / 1000;
  let watching = true;
  const watched = scaled.secondsUntilTraffic(15_000).finally(() => (watching = false));
  const segments = [await first];
  while (watching && segments.length < 6) segments.push(await load(5));
  return {
    sent: segments.reduce((n, s) => n + s.sent, 0),
    failed: segments.reduce((n, s) => n + s.failed + s.dropped, 0),
    readySeconds,
    traffic: await watched,
    errors: segments.reduce<Record<string, number>>((all, s) => {
      for (const [kind, n] of Object.entries(s.errors)) all[kind] = (all[kind] ?? 0) + n;
      return all;
    }, {}),
  };
}

/**
 * Steps one layer's replicas (1 → 2 → 4 by default) live, and at every step measures, `repeats` times: the saturation
 * throughput (a closed loop with bounded concurrency, more than the layer can take) with the CPU of every process
 * around it, the SLO capacity (the highest open-loop rate with p99 under the bound and nothing failed), and the p99 of
 * a control scenario that does not touch the layer, while the layer runs at 70 % of its capacity.
 */
export async function runLayer(
  target: ExperimentTarget,
  plan: LayerPlan,
  settings: ExperimentSettings,
  ctx: ScenarioContext,
): Promise<StepResult[]> {
  const { log } = settings;
  const steps: StepResult[] = [];
  const say = (lines: string[]) =>
    settings.status?.([`${plan.service} (${plan.layer}) on ${target.name}, driver ${settings.driver.name}`, ...lines]);
  for (const replicas of settings.steps) {
    const previous = steps.at(-1);
    let scaleOut: StepResult['scaleOut'];
    if (previous) {
      // Live, under load at 60 % of what the previous step sustained at the SLO (or of its saturation): count failures
      // and time the new replicas. The driver must follow the endpoints as a load balancer does.
      const base =
        Number.isFinite(previous.capacity.median) && previous.capacity.median > 0
          ? previous.capacity.median
          : previous.saturation.median * 0.7;
      const rate = Math.max(1, Math.round(base * 0.6));
      const before = await target.othersFingerprint(plan.service);
      say([`scaling ${plan.service} ${previous.replicas} → ${replicas} under ${rate} req/s`]);
      log(`  scaling ${plan.service} ${previous.replicas} → ${replicas} live, under ${rate} req/s of ${plan.scenario}`);
      const { sent, failed, readySeconds, traffic, errors } = await scaleUnderLoad(
        (seconds) => drive(settings, target, ctx, plan.scenario, { seconds, rate }, settings.scaleOutDriver, 'scale-out load'),
        () => target.scaleTo(plan.service, replicas),
      );
      const othersRestarted = before !== (await target.othersFingerprint(plan.service));
      scaleOut = { sent, failed, errors, secondsUntilTraffic: traffic, othersRestarted };
      log(
        `  scale-out: ${failed} failed of ${sent}${failed > 0 ? ` (${JSON.stringify(errors)})` : ''}; ready ${readySeconds.toFixed(1)} s after the change; new replicas served after ${traffic.map((s) => s.toFixed(1)).join(', ')} s; others restarted: ${othersRestarted}`,
      );
    }
    const concurrency = plan.saturationConcurrencyPerReplica * replicas;
    // Warm-up, not measured: JIT, connection pools, a connection to every replica. Under a CPU quota V8's optimising
    // compiler competes with the requests for the quota, so a new replica's throughput keeps rising for 20–30 s:
    // saturation load in 3 s windows until two windows agree within 7 % (at most 10 windows).
    say([`${plan.service} × ${replicas}: warming up`]);
    let previousWindow = Number.NaN;
    let warmUpFailed = 0;
    for (let window = 1; window <= 10; window++) {
      const w = await drive(settings, target, ctx, plan.scenario, { seconds: 3, concurrency });
      warmUpFailed += w.failed + w.dropped;
      const settled = Math.abs(w.achievedRate - previousWindow) <= 0.07 * w.achievedRate;
      previousWindow = w.achievedRate;
      if (settled) {
        log(`    warm after ${window} windows of 3 s (${w.achievedRate.toFixed(1)} req/s)`);
        break;
      }
    }

    const runs: SaturationRun[] = [];
    const capacities: number[] = [];
    const searches: ProbeRecord[][] = [];
    const controls: number[] = [];
    const controlMedians: number[] = [];
    let controlFailed = 0;
    const saturationRun = async (tag: string) => {
      say([`${tag}: saturation (closed loop, ${concurrency} outstanding)`]);
      const before = await snapshot(target);
      const sat = await drive(settings, target, ctx, plan.scenario, { seconds: settings.probeSeconds, concurrency });
      const after = await snapshot(target);
      const { accounting, throttledPerSecond } = account(target, plan.service, before, after, sat);
      const bound = boundBy(accounting);
      runs.push({ throughput: sat.achievedRate, p99Ms: sat.p99Ms, failed: sat.failed, accounting, throttledPerSecond, bound });
      const shares = requestShares(accounting.stepped).map((s) => `${Math.round(s * 100)} %`);
      const fixedNode = accounting.fixedNode ? `, the rest's CPU ${Math.round(accounting.fixedNode.idle * 100)} % idle` : '';
      log(
        `    ${tag}: saturation ${sat.achievedRate.toFixed(1)} req/s (p99 ${sat.p99Ms.toFixed(0)} ms, failed ${sat.failed}); ` +
          `${plan.service} CPU ${accounting.stepped.map((r) => (Number.isFinite(r.quota) ? `${Math.round((r.cores / r.quota) * 100)} %` : `${r.cores.toFixed(2)} cores`)).join(' ')}` +
          `${Number.isFinite(accounting.stepped[0]?.quota ?? Number.NaN) ? ' of quota' : ''}, ${perCpuSecondOf(runs.at(-1)!).toFixed(0)} req per CPU-second, requests ${shares.join(' ')}; driver ${accounting.driverCores.toFixed(2)} cores${accounting.driverLoop !== undefined ? ` (loop ${Math.round(accounting.driverLoop * 100)} % busy)` : ''}; host idle ${Math.round(accounting.hostIdle * 100)} %${fixedNode} → bound by ${bound.by}`,
      );
      return sat;
    };
    for (let repeat = 1; repeat <= settings.repeats; repeat++) {
      const tag = `${plan.service} × ${replicas}, repeat ${repeat}/${settings.repeats}`;
      const sat = await saturationRun(tag);

      if (!settings.skipSlo) {
        say([`${tag}: SLO search (p99 ≤ ${plan.sloP99Ms} ms, nothing failed)`]);
        const start = sat.achievedRate > 0 ? sat.achievedRate * 0.6 : steps[0] ? steps[0].capacity.median * replicas * 0.6 : plan.startRate;
        const { capacity, probes } = await findCapacity(
          async (rate) => {
            const r = await drive(settings, target, ctx, plan.scenario, { seconds: settings.probeSeconds, rate });
            const record = {
              rate,
              pass: probePasses(r, plan.sloP99Ms),
              p99Ms: r.p99Ms,
              failed: r.failed,
              dropped: r.dropped,
              achievedRate: r.achievedRate,
            };
            log(
              `      ${String(rate).padStart(6)} req/s → p99 ${r.p99Ms.toFixed(1)} ms, failed ${r.failed}, dropped ${r.dropped}: ${record.pass ? 'pass' : 'FAIL'}`,
            );
            return record;
          },
          start,
          settings.refinements,
          { growth: 1.25 },
        );
        capacities.push(capacity);
        searches.push(probes);
      }
      // The control, measured while the layer runs at 70 % of what it sustains (its SLO capacity, or its saturation).
      const busy = Math.max(1, Math.round(0.7 * (capacities.at(-1) || sat.achievedRate * 0.7)));
      say([`${tag}: control ${plan.control} at ${plan.controlRate} req/s beside ${busy} req/s of ${plan.scenario}`]);
      const [control] = await Promise.all([
        drive(settings, target, ctx, plan.control, { seconds: settings.probeSeconds + 2, rate: plan.controlRate }),
        drive(settings, target, ctx, plan.scenario, { seconds: settings.probeSeconds + 2, rate: busy }),
      ]);
      controls.push(control.p99Ms);
      controlMedians.push(control.p50Ms);
      controlFailed += control.failed + control.dropped;
      log(
        `    ${tag}: ${settings.skipSlo ? '' : `SLO capacity ${capacities.at(-1)} req/s; `}control ${plan.control} p99 ${control.p99Ms.toFixed(1)} ms (failed ${control.failed + control.dropped})`,
      );
    }

    // The reference every efficiency divides by: at the first step, more saturation runs until the last `repeats` of
    // them agree within ±10 % of their median (at most three times as many runs); the figure is their median.
    let reference: SaturationRun[] = runs;
    if (steps.length === 0 && settings.steadyReference) {
      const latest = () => runs.slice(-settings.repeats);
      while (repeated(latest().map((r) => r.throughput)).spread > STEADY_SPREAD && runs.length < settings.repeats * 3)
        await saturationRun(
          `${plan.service} × ${replicas}, reference run ${runs.length + 1} (until ${settings.repeats} agree within ±10 %)`,
        );
      reference = latest();
      log(
        `    reference: ${runs.length} saturation runs, the last ${reference.length} within ±${Math.round(repeated(reference.map((r) => r.throughput)).spread * 100)} % of their median${repeated(reference.map((r) => r.throughput)).spread > STEADY_SPREAD ? ' (NOT steady: the spread stayed above ±10 %)' : ''}`,
      );
    }
    const saturation = repeated(reference.map((r) => r.throughput));
    const perCpuSecond = repeated(reference.map(perCpuSecondOf));
    const capacity = repeated(capacities);
    const first = steps[0];
    const medianOf = (f: (r: SaturationRun) => number) => median(runs.map(f));
    const step: StepResult = {
      replicas,
      saturation,
      saturationEfficiency: first ? efficiency(saturation.median, replicas / first.replicas, first.saturation.median) : 1,
      perCpuSecond,
      cpuEfficiency: first ? perCpuSecond.median / first.perCpuSecond.median : 1,
      saturationRuns: runs,
      warmUpFailed,
      capacity,
      capacityEfficiency: first ? efficiency(capacity.median, replicas / first.replicas, first.capacity.median) : 1,
      searches,
      controlP99Ms: repeated(controls),
      controlP50Ms: repeated(controlMedians),
      controlFailed,
      bound: mostlyBoundBy(runs),
      explained: {
        steppedQuotaUse: runs[0]!.accounting.stepped.map((_, i) =>
          medianOf((r) => (r.accounting.stepped[i]?.cores ?? Number.NaN) / (r.accounting.stepped[i]?.quota ?? Number.NaN)),
        ),
        requestShares: runs[0]!.accounting.stepped.map((_, i) => medianOf((r) => requestShares(r.accounting.stepped)[i] ?? Number.NaN)),
        gatewayCores: medianOf(
          (r) =>
            r.accounting.fixed.filter((f) => f.service === 'gateway').reduce((a, f) => a + f.cores, 0) +
            (plan.service === 'gateway' ? r.accounting.stepped.reduce((a, s) => a + s.cores, 0) : 0),
        ),
        driverCores: medianOf((r) => r.accounting.driverCores),
        otherCores: medianOf((r) => r.accounting.fixed.filter((f) => f.service !== 'gateway').reduce((a, f) => a + f.cores, 0)),
        hostIdle: medianOf((r) => r.accounting.hostIdle),
      },
      scaleOut,
    };
    log(
      `  ${plan.service} × ${replicas}: saturation ${saturation.median.toFixed(1)} req/s (${saturation.min.toFixed(1)}–${saturation.max.toFixed(1)}), efficiency ${step.saturationEfficiency.toFixed(2)}` +
        `${settings.skipSlo ? '' : `; SLO capacity ${capacity.median} (${capacity.min}–${capacity.max}), efficiency ${step.capacityEfficiency.toFixed(2)}`}` +
        `; control p99 ${step.controlP99Ms.median.toFixed(1)} ms; bound by ${step.bound.by} (${step.bound.detail})`,
    );
    steps.push(step);
  }
  return steps;
}

/** What one layer's experiment produced, as the report and the chart read it. */
export interface LayerReport {
  plan: LayerPlan;
  target: string;
  /** What bounds one replica's capacity where the experiment ran. */
  capacityNote: string;
  driver: string;
  repeats: number;
  probeSeconds: number;
  cpusPerReplica: number;
  /** Where the layers ran (reports stored before the pinned arrangement existed ran shared). */
  placement?: Placement;
  steps: StepResult[];
  startedAt: string;
  finishedAt: string;
}

/** A layer that could not be made the limit through the public API, and why (reported instead of left out). */
export interface SkippedLayer {
  service: string;
  why: string;
}
