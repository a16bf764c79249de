import { rateAt, runOpenLoop, type ArrivalRate, type LoadResult } from '../driver.js';
import type { HttpScenario } from '../scenarios.js';

/** A runtime whose autoscalers act: where the load goes, and what it can say about its layers each second. */
export interface AutoscalingSubject {
  /** The runtime, for the report: "local cluster (processes)" or "containers (k8s:docker, CPU limits)". */
  name: string;
  baseUrl: string;
  /** Each layer's desired replicas (the scale the autoscaler sets). */
  desired(): Map<string, number>;
  /** The autoscaled service's CPU utilization at the last sync, in percent of request, and the HPA's target. */
  utilization(service: string): { current?: number; target: number };
  /** What the control loop said, oldest first (scale decisions among it). */
  events(): string[];
}

export interface RampPlan {
  /** The scenario's name (loadtests/scenarios) and the scenario. */
  scenarioName: string;
  scenario: HttpScenario;
  /** The service the scenario loads (and whose HPA should act). */
  service: string;
  /** Arrivals rising from → to over rampSec, then `hold` for holdSec, then `quiet` until the service is back at its floor. */
  ramp: { from: number; to: number };
  rampSec: number;
  holdSec: number;
  quietRate: number;
  /** How long the quiet phase may last at most (the scale-down window plus syncs and a drain). */
  quietSec: number;
  /** Replicas the service should come back to (its HPA's minReplicas, the overlay's declaration). */
  floor: number;
  onProgress?: (line: string) => void;
}

/** One second of the run. */
export interface RampPoint {
  t: number;
  phase: 'ramp' | 'hold' | 'quiet';
  offered: number;
  /** Requests answered in that second, their p99 (ms) and how many failed. */
  answered: number;
  p99Ms: number;
  failed: number;
  utilization?: number;
  replicas: Record<string, number>;
}

export interface RampResult {
  subject: string;
  plan: Omit<RampPlan, 'scenario' | 'onProgress'>;
  timeline: RampPoint[];
  phases: { ramp: LoadResult; hold: LoadResult; quiet: LoadResult };
  /** Every change of a layer's desired replicas: when (s after the ramp began), from, to. */
  steps: { service: string; t: number; from: number; to: number }[];
  /** Seconds after the load fell at which the service was back at its floor (undefined: not within quietSec). */
  backToFloorSec?: number;
  /** The layers' replicas before the run. */
  declared: Record<string, number>;
  target: number;
}

const p99 = (values: number[]) => {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.99) - 1)]!;
};

/**
 * The autoscaling run of reports/autoscaling.md and the system tests: an open-loop ramp on one scenario, a hold at its
 * top, then a light load while the autoscaler brings the layer back to its floor. Every second it records the offered
 * rate, the answers (count, p99, failures), the service's CPU utilization and every layer's desired replicas. It
 * asserts nothing: the tests do, and the report shows it.
 */
export async function runRamp(subject: AutoscalingSubject, plan: RampPlan): Promise<RampResult> {
  const declared = Object.fromEntries(subject.desired());
  const timeline: RampPoint[] = [];
  const steps: RampResult['steps'] = [];
  let last = new Map(subject.desired());
  let second: { latencies: number[]; failed: number } = { latencies: [], failed: 0 };
  let phase: RampPoint['phase'] = 'ramp';
  let phaseStart = performance.now();
  let phaseRate: ArrivalRate = plan.ramp;
  let phaseSec = plan.rampSec;
  const began = performance.now();
  const elapsed = () => (performance.now() - began) / 1000;
  const recorder = setInterval(() => {
    const now = subject.desired();
    for (const [service, count] of now)
      if (last.get(service) !== count) steps.push({ service, t: Math.round(elapsed() * 10) / 10, from: last.get(service) ?? 0, to: count });
    last = new Map(now);
    const { current } = subject.utilization(plan.service);
    const point: RampPoint = {
      t: Math.round(elapsed()),
      phase,
      offered: Math.round(rateAt(phaseRate, (performance.now() - phaseStart) / 1000, phaseSec) * 10) / 10,
      answered: second.latencies.length,
      p99Ms: Math.round(p99(second.latencies) * 10) / 10,
      failed: second.failed,
      utilization: current,
      replicas: Object.fromEntries(now),
    };
    timeline.push(point);
    second = { latencies: [], failed: 0 };
    if (point.t % 5 === 0)
      plan.onProgress?.(
        `  ${String(point.t).padStart(4)} s  ${phase.padEnd(5)} offered ${point.offered.toFixed(0).padStart(3)}/s  p99 ${Number.isNaN(point.p99Ms) ? '–' : point.p99Ms.toFixed(0)} ms  ${plan.service} cpu ${current ?? '?'}% → ${now.get(plan.service)} replicas`,
      );
  }, 1_000);
  const load = (rate: ArrivalRate, durationSec: number) =>
    runOpenLoop({
      baseUrls: [subject.baseUrl],
      scenario: plan.scenario,
      context: { runId: `ramp-${Date.now()}` },
      durationSec,
      rate,
      onResponse: ({ status, latencyMs }) => {
        second.latencies.push(latencyMs);
        if (status >= 400) second.failed++;
      },
    });
  try {
    const ramp = await load(plan.ramp, plan.rampSec);
    phase = 'hold';
    phaseStart = performance.now();
    phaseRate = plan.ramp.to;
    phaseSec = plan.holdSec;
    const hold = await load(plan.ramp.to, plan.holdSec);
    phase = 'quiet';
    phaseStart = performance.now();
    phaseRate = plan.quietRate;
    phaseSec = plan.quietSec;
    const fell = performance.now();
    let backToFloorSec: number | undefined;
    const watch = setInterval(() => {
      if (backToFloorSec === undefined && subject.desired().get(plan.service) === plan.floor)
        backToFloorSec = Math.round((performance.now() - fell) / 100) / 10;
    }, 250);
    const quiet = await load(plan.quietRate, plan.quietSec);
    clearInterval(watch);
    const { scenario: _scenario, onProgress: _onProgress, ...rest } = plan;
    return {
      subject: subject.name,
      plan: rest,
      timeline,
      phases: { ramp, hold, quiet },
      steps,
      backToFloorSec,
      declared,
      target: subject.utilization(plan.service).target,
    };
  } finally {
    clearInterval(recorder);
  }
}
