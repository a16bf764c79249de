import assert from 'node:assert/strict';
import type { RampPlan, RampResult } from '@strata/loadtests';

/**
 * The short ramp of the system tests: 5 → 35 requests/s over 24 s, 12 s at 35, then 2/s while it scales back. Not
 * higher on this two-core machine: at 55/s locally the host itself was the limit (p99 4.3 s, arrivals dropped). The
 * quiet load is low because the way back to one replica needs it below half the target at two: at 5/s, CI on
 * 2026-12-04 (a machine about three times slower per call than the day before) read 15 % of 250m at 4 replicas, so
 * about 30 ms of CPU per request, and at 2 replicas the HPA kept recommending 2 (4 → 2 at 57 s, never 1 before the
 * quiet phase ended). At 2/s one replica stays below the target on a machine several times slower still.
 */
export const LOCAL_RAMP: Omit<RampPlan, 'scenario' | 'floor'> = {
  scenarioName: 'recommendations',
  service: 'recommendations',
  ramp: { from: 5, to: 35 },
  rampSec: 24,
  holdSec: 12,
  quietRate: 2,
  quietSec: 40,
};

/**
 * What an autoscaling run must show: the loaded service scaled out (above its floor, within its maximum) and came back
 * to its floor no sooner than the scale-down window allows; every other layer kept its declared replicas the whole
 * time; no request failed or was dropped in any phase.
 */
export function assertScaledAlone(
  result: RampResult,
  hpa: { max: number; windowSec: number; syncSec: number },
  log: readonly string[],
): void {
  const { service, floor } = result.plan;
  const ours = result.steps.filter((s) => s.service === service);
  const peak = Math.max(floor, ...ours.map((s) => s.to));
  const { ramp, hold, quiet } = result.phases;
  const context = `\nsteps ${JSON.stringify(result.steps)}\n${log.join('\n')}`;
  console.log(
    `${result.subject}: ${service} ${ours.map((s) => `${s.from} → ${s.to} at ${s.t} s`).join(', ') || 'never scaled'}; back to ${floor} ${result.backToFloorSec ?? '–'} s after the load fell; ` +
      `p99 ramp ${ramp.latencyMs.p99.toFixed(0)} ms, hold ${hold.latencyMs.p99.toFixed(0)} ms, quiet ${quiet.latencyMs.p99.toFixed(0)} ms`,
  );
  assert.ok(peak > floor && peak <= hpa.max, `${service} peaked at ${peak} (floor ${floor}, max ${hpa.max})${context}`);
  for (const phase of [ramp, hold, quiet]) assert.equal(phase.failed + phase.dropped, 0, `${JSON.stringify(phase.errors)}${context}`);
  assert.ok(result.backToFloorSec !== undefined, `${service} did not come back to ${floor} within the quiet phase${context}`);
  const lastUp = Math.max(...ours.filter((s) => s.to > s.from).map((s) => s.t));
  const firstDown = ours.find((s) => s.to < s.from);
  assert.ok(
    firstDown && firstDown.t - lastUp >= hpa.windowSec - hpa.syncSec,
    `scaled down ${firstDown?.t} s, before the ${hpa.windowSec} s window after ${lastUp} s${context}`,
  );
  const others = result.steps.filter((s) => s.service !== service);
  assert.deepEqual(others, [], `other layers changed${context}`);
}

/**
 * The containers' ramp: one recommendations replica (the minikube overlay's declaration), so a lower top: 3 → 14
 * requests/s. Not higher: in containers catalog (2 replicas, 250m request each) spends about 22 ms of CPU per
 * recommendations request, so near 18 requests/s its own HPA adds a replica too (measured 2026-12-03: 79 % of request at
 * 18/s) — right, but then it is not recommendations alone that scales (reports/autoscaling.md shows the higher ramp).
 * The quiet load is 1/s: at 3/s CI on 2026-12-04 read 25 % of 500m at 3 replicas (~125 ms of CPU per request, the
 * replicas' idle work included), 3 → 2 at 59 s, and at 2 replicas that sits above half the target, so never 1.
 */
export const CONTAINERS_RAMP: Omit<RampPlan, 'scenario' | 'floor'> = { ...LOCAL_RAMP, ramp: { from: 3, to: 14 }, quietRate: 1 };
