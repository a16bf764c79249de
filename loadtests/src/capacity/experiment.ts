import { progressLine, runOpenLoop, type LoadResult } from '../driver.js';
import { loadScenarios, type Scenario, type ScenarioContext } from '../scenarios.js';

export type ScenarioName = string;
const scenarios: Record<string, Scenario> = await loadScenarios();

/** What is stepped, what it is measured with, and what must not move. */
export interface LayerPlan {
  service: string;
  layer: 'leaf' | 'composite' | 'edge';
  /** The endpoint this layer limits. */
  scenario: ScenarioName;
  /** An endpoint that does not touch this layer; its p99 must not degrade as the layer scales. */
  control: ScenarioName;
  controlRate: number;
  /** p99 bound of the SLO, and the first rate tried. */
  sloP99Ms: number;
  startRate: number;
}

/** Where the experiment runs: containers (testcontainers) or a Kubernetes cluster. */
export interface ExperimentTarget {
  readonly name: string;
  baseUrls(): string[];
  /** Adds replicas of `service` up to `count`, live; resolves when they are ready. */
  scaleTo(service: string, count: number): Promise<ScaleOut>;
  /** Fingerprint of every other workload's start time, to show nothing else restarted. */
  othersFingerprint(service: string): Promise<string>;
}
export interface ScaleOut {
  /** Resolves with, per new replica, seconds from ready until it served its first call (NaN if unknown). */
  secondsUntilTraffic(timeoutMs: number): Promise<number[]>;
}

export interface ProbeRecord {
  rate: number;
  pass: boolean;
  p99Ms: number;
  failed: number;
  dropped: number;
  achievedRate: number;
}

export interface StepResult {
  replicas: number;
  capacity: number;
  efficiency: number;
  controlP99Ms: number;
  controlFailed: number;
  scaleOut?: { sent: number; failed: number; secondsUntilTraffic: number[]; othersRestarted: boolean };
  probes: ProbeRecord[];
}

export interface ExperimentSettings {
  steps: number[];
  probeSeconds: number;
  /** Bisection rounds after the first failing rate. */
  refinements: number;
  log: (line: string) => void;
}

/** One probe passes when every request succeeded, none was dropped, p99 met the SLO and the rate was kept. */
export function probePasses(result: LoadResult, sloP99Ms: number): boolean {
  return result.failed === 0 && result.dropped === 0 && result.latencyMs.p99 <= sloP99Ms && result.achievedRate >= 0.97 * result.rate;
}

let requestIndex = 0;

async function load(
  target: ExperimentTarget,
  name: ScenarioName,
  rate: number,
  seconds: number,
  ctx: ScenarioContext,
  label?: string,
  log?: (l: string) => void,
): Promise<LoadResult> {
  const result = await runOpenLoop({
    baseUrls: target.baseUrls(),
    scenario: scenarios[name],
    context: ctx,
    rate,
    durationSec: seconds,
    startIndex: (requestIndex += 1_000_000),
    onProgress: label && log ? (s) => log(progressLine(label, s)) : undefined,
  });
  return result;
}

/**
 * The highest arrival rate that meets the SLO: grow by ×1.6 from `start` until a probe fails, then bisect
 * between the last pass and the first failure.
 */
export async function findCapacity(
  probe: (rate: number) => Promise<ProbeRecord>,
  start: number,
  refinements: number,
  maxProbes = 12,
): Promise<{ capacity: number; probes: ProbeRecord[] }> {
  const probes: ProbeRecord[] = [];
  let pass = 0;
  let fail = Infinity;
  let rate = start;
  while (probes.length < maxProbes) {
    const record = await probe(Math.round(rate));
    probes.push(record);
    if (record.pass) {
      pass = record.rate;
      if (fail !== Infinity) break;
      rate = rate * 1.6;
    } else {
      fail = record.rate;
      if (pass === 0) {
        rate = rate / 2;
        if (rate < 1) break;
      } else break;
    }
  }
  for (let k = 0; k < refinements && fail !== Infinity && pass > 0 && fail - pass > Math.max(2, pass * 0.04); k++) {
    const mid = Math.round((pass + fail) / 2);
    const record = await probe(mid);
    probes.push(record);
    if (record.pass) pass = mid;
    else fail = mid;
  }
  return { capacity: pass, probes };
}

/** Steps one layer's replicas (1 → 2 → 4 by default), live, measuring capacity and the control endpoint. */
export async function runLayer(
  target: ExperimentTarget,
  plan: LayerPlan,
  settings: ExperimentSettings,
  ctx: ScenarioContext,
): Promise<StepResult[]> {
  const { log } = settings;
  const steps: StepResult[] = [];
  let previous: StepResult | undefined;
  for (const replicas of settings.steps) {
    let scaleOut: StepResult['scaleOut'];
    if (previous) {
      // Scale out live, under load at 60 % of the current capacity: count failures, time the new replicas.
      const before = await target.othersFingerprint(plan.service);
      const rate = Math.max(1, Math.round(previous.capacity * 0.6));
      log(`  scaling ${plan.service} ${previous.replicas} → ${replicas} under ${rate} req/s of ${plan.scenario}`);
      const loadDone = load(target, plan.scenario, rate, 14, ctx, `scale-out load`, log);
      await new Promise((r) => setTimeout(r, 2_000));
      const scaled = await target.scaleTo(plan.service, replicas);
      const traffic = await scaled.secondsUntilTraffic(15_000);
      const during = await loadDone;
      const after = await target.othersFingerprint(plan.service);
      scaleOut = {
        sent: during.sent,
        failed: during.failed + during.dropped,
        secondsUntilTraffic: traffic,
        othersRestarted: before !== after,
      };
      log(
        `  scale-out: ${during.failed + during.dropped} failed of ${during.sent}; new replicas took traffic after ${traffic.map((s) => s.toFixed(1)).join(', ')} s; others restarted: ${scaleOut.othersRestarted}`,
      );
    }
    const start = previous ? Math.max(1, ((previous.capacity * replicas) / previous.replicas) * 0.8) : plan.startRate;
    // Warm-up (JIT, pools, connections to every replica), not measured.
    await load(target, plan.scenario, Math.max(1, Math.round(start / 2)), settings.probeSeconds, ctx);
    log(`  ${plan.service} × ${replicas}: searching the capacity of ${plan.scenario} (SLO p99 ≤ ${plan.sloP99Ms} ms, 0 errors)`);
    const { capacity, probes } = await findCapacity(
      async (rate) => {
        const r = await load(target, plan.scenario, rate, settings.probeSeconds, ctx);
        const record = {
          rate,
          pass: probePasses(r, plan.sloP99Ms),
          p99Ms: r.latencyMs.p99,
          failed: r.failed,
          dropped: r.dropped,
          achievedRate: r.achievedRate,
        };
        log(
          `    ${String(rate).padStart(6)} req/s → p99 ${r.latencyMs.p99.toFixed(1)} ms, failed ${r.failed}, dropped ${r.dropped}: ${record.pass ? 'pass' : 'FAIL'}`,
        );
        return record;
      },
      start,
      settings.refinements,
    );
    // The control endpoint, measured while this layer runs at 70 % of its capacity.
    const [control] = await Promise.all([
      load(target, plan.control, plan.controlRate, settings.probeSeconds + 2, ctx),
      load(target, plan.scenario, Math.max(1, Math.round(capacity * 0.7)), settings.probeSeconds + 2, ctx),
    ]);
    const first = steps[0]?.capacity ?? capacity;
    const step: StepResult = {
      replicas,
      capacity,
      efficiency: first > 0 ? capacity / (replicas * (steps[0] ? first : capacity)) : 0,
      controlP99Ms: control.latencyMs.p99,
      controlFailed: control.failed + control.dropped,
      scaleOut,
      probes,
    };
    log(
      `  ${plan.service} × ${replicas}: capacity ${capacity} req/s, efficiency ${step.efficiency.toFixed(2)}, control ${plan.control} p99 ${control.latencyMs.p99.toFixed(1)} ms`,
    );
    steps.push(step);
    previous = step;
  }
  return steps;
}
