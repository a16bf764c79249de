import { execFileSync } from 'node:child_process';
import type { LoadBalancing } from '../driver.js';
import type { Scenario, ScenarioContext } from '../scenarios.js';
import { requestsServed } from '../capacity/accounting.js';
import type { LoadDriver } from '../capacity/drivers.js';
import { median } from '../capacity/statistics.js';
import type { ManifestsTarget } from '../capacity/manifests-target.js';
import type { ReplicaHandle } from '../capacity/targets.js';

/** The two policies compared: the kit's (by reported load) and the one it replaced. */
export const POLICIES: readonly LoadBalancing[] = ['round_robin', 'weighted_round_robin'];

export interface BalancingPlan {
  service: string;
  scenarioName: string;
  scenario: Scenario;
  context: ScenarioContext;
  /** CPU quota of a replica, in cores; the slow one gets half. */
  cpusPerReplica: number;
  /** Requests kept outstanding in the saturation runs (all replicas together). */
  concurrency: number;
  /** Seconds of each saturation run before its calls are counted (the weights settle), and counted. */
  warmUpSec: number;
  measureSec: number;
  repeats: number;
  log: (line: string) => void;
}

/** One saturation run of four replicas, one at half quota, under one policy. */
export interface UnequalRun {
  policy: LoadBalancing;
  repeat: number;
  /** Calls the replicas answered per second while counted (their own metrics). */
  throughput: number;
  /** Of the driver's whole run, warm-up included. */
  p99Ms: number;
  failed: number;
  /** What the failed (and dropped) requests were. */
  errors: Record<string, number>;
  /** Each replica's share of the counted calls; the slow one is `slow`. */
  shares: Record<string, number>;
  slow: string;
}

/** One second of the slow-down run. */
export interface SlowdownSecond {
  t: number;
  /** The victim's share of the calls answered in this second (NaN when none was). */
  share: number;
  /** p99 of the driver's answers in this second. */
  p99Ms: number;
  /** Failed requests so far. */
  failed: number;
}

export interface SlowdownRun {
  policy: LoadBalancing;
  rate: number;
  cutAtSec: number;
  restoreAtSec: number;
  /** The victim's quota during the cut, in cores (the others keep `cpusPerReplica`). */
  cutCpus: number;
  seconds: SlowdownSecond[];
  failed: number;
  /** What the failed (and dropped) requests were. */
  errors: Record<string, number>;
  /** Seconds after the cut until the victim's share fell under half of an equal share (NaN: never). */
  shareFallSec: number;
  p99BeforeMs: number;
  p99DuringMs: number;
  p99AfterMs: number;
}

/**
 * Sets a running container's CFS quota on the 100 ms period the runtime gave it (as the kubelet does), as a node's
 * CPU would change under a noisy neighbour: `docker update --cpu-quota` (`--cpus` conflicts with a set period).
 */
export function setQuota(docker: string, container: string, cores: number): void {
  execFileSync(docker, ['update', '--cpu-period', '100000', '--cpu-quota', String(Math.round(cores * 100_000)), container], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

/** Each replica's calls served so far; a replica too busy to answer its scrape in 2 s is asked again (3 tries). */
const servedBy = async (replicas: readonly ReplicaHandle[]) =>
  Object.fromEntries(
    await Promise.all(
      replicas.map(async (r) => {
        let served = Number.NaN;
        for (let i = 0; i < 3 && Number.isNaN(served); i++) served = await requestsServed(r.metricsUrl);
        return [r.id, served] as const;
      }),
    ),
  );

/**
 * Four replicas, one with half the quota of the others (an older node, a noisy neighbour): saturation throughput with
 * round_robin and with weighted_round_robin, alternating which goes first, `repeats` times. The load generator is the
 * caller (the service is called straight over gRPC), so its channel's policy is the one measured.
 */
export async function unequalReplicas(
  target: ManifestsTarget,
  driver: LoadDriver,
  docker: string,
  plan: BalancingPlan,
): Promise<UnequalRun[]> {
  const replicas = target.replicas(plan.service);
  const slow = replicas.at(-1)!;
  setQuota(docker, target.containerOf(plan.service, slow.id)!, plan.cpusPerReplica / 2);
  plan.log(`  ${slow.id} at ${plan.cpusPerReplica / 2} CPU, the other ${replicas.length - 1} at ${plan.cpusPerReplica}`);
  const runs: UnequalRun[] = [];
  let startIndex = 0;
  for (let repeat = 1; repeat <= plan.repeats; repeat++) {
    const order = repeat % 2 === 1 ? POLICIES : [...POLICIES].reverse();
    for (const policy of order) {
      let from: Record<string, number> | undefined;
      const counting = setTimeout(() => void servedBy(replicas).then((s) => (from = s)), plan.warmUpSec * 1000);
      const result = await driver.run(
        {
          scenarioName: plan.scenarioName,
          scenario: plan.scenario,
          context: plan.context,
          seconds: plan.warmUpSec + plan.measureSec,
          concurrency: plan.concurrency,
          startIndex,
          loadBalancing: policy,
        },
        target,
      );
      clearTimeout(counting);
      startIndex += result.sent;
      const to = await servedBy(replicas);
      const counted = Object.fromEntries(replicas.map((r) => [r.id, to[r.id]! - (from?.[r.id] ?? Number.NaN)]));
      const total = Object.values(counted).reduce((a, b) => a + b, 0);
      const run: UnequalRun = {
        policy,
        repeat,
        throughput: total / plan.measureSec,
        p99Ms: result.p99Ms,
        failed: result.failed + result.dropped,
        errors: { ...result.errors, ...(result.dropped > 0 && { dropped: result.dropped }) },
        shares: Object.fromEntries(Object.entries(counted).map(([id, n]) => [id, n / total])),
        slow: slow.id,
      };
      plan.log(
        `  repeat ${repeat}, ${policy}: ${run.throughput.toFixed(0)} calls/s, p99 ${run.p99Ms.toFixed(0)} ms, ${run.failed} failed, slow replica's share ${(run.shares[slow.id]! * 100).toFixed(1)} %`,
      );
      runs.push(run);
    }
  }
  setQuota(docker, target.containerOf(plan.service, slow.id)!, plan.cpusPerReplica);
  return runs;
}

/**
 * A replica that turns slow under load: four equal replicas under an open loop at `rate`; `cutAtSec` in, one replica's
 * quota is cut to a quarter, `restoreAtSec` in it is given back. Per second: the victim's share of the calls, the p99,
 * the failures so far.
 */
export async function slowdown(
  target: ManifestsTarget,
  driver: LoadDriver,
  docker: string,
  plan: BalancingPlan,
  policy: LoadBalancing,
  rate: number,
  timing = { cutAtSec: 10, restoreAtSec: 30, totalSec: 45 },
): Promise<SlowdownRun> {
  const replicas = target.replicas(plan.service);
  const victim = replicas.at(-1)!;
  const container = target.containerOf(plan.service, victim.id)!;
  const cutCpus = plan.cpusPerReplica / 4;
  const seconds: SlowdownSecond[] = [];
  let previous = await servedBy(replicas);
  let p99 = Number.NaN;
  let failed = 0;
  const began = performance.now();
  const every = setInterval(() => {
    void servedBy(replicas).then((now) => {
      const delta = Object.fromEntries(replicas.map((r) => [r.id, now[r.id]! - previous[r.id]!]));
      previous = now;
      const total = Object.values(delta).reduce((a, b) => a + b, 0);
      seconds.push({
        t: Math.round((performance.now() - began) / 1000),
        share: total > 0 ? delta[victim.id]! / total : Number.NaN,
        p99Ms: p99,
        failed,
      });
    });
  }, 1000);
  const cut = setTimeout(() => {
    setQuota(docker, container, cutCpus);
    plan.log(`    ${timing.cutAtSec} s: ${victim.id} cut to ${cutCpus} CPU`);
  }, timing.cutAtSec * 1000);
  const restore = setTimeout(() => {
    setQuota(docker, container, plan.cpusPerReplica);
    plan.log(`    ${timing.restoreAtSec} s: ${victim.id} back to ${plan.cpusPerReplica} CPU`);
  }, timing.restoreAtSec * 1000);
  let result;
  try {
    result = await driver.run(
      {
        scenarioName: plan.scenarioName,
        scenario: plan.scenario,
        context: plan.context,
        seconds: timing.totalSec,
        rate,
        startIndex: 1_000_000,
        loadBalancing: policy,
        onSnapshot: (s) => {
          p99 = s.intervalP99Ms ?? Number.NaN;
          failed = s.failed + s.dropped;
        },
      },
      target,
    );
  } finally {
    clearInterval(every);
    clearTimeout(cut);
    clearTimeout(restore);
    setQuota(docker, container, plan.cpusPerReplica);
  }
  const p99Of = (from: number, to: number) =>
    median(seconds.filter((s) => s.t > from && s.t <= to && Number.isFinite(s.p99Ms)).map((s) => s.p99Ms));
  return {
    policy,
    rate,
    cutAtSec: timing.cutAtSec,
    restoreAtSec: timing.restoreAtSec,
    cutCpus,
    seconds,
    failed: result.failed + result.dropped,
    errors: { ...result.errors, ...(result.dropped > 0 && { dropped: result.dropped }) },
    shareFallSec: shareFallSec(seconds, timing.cutAtSec, timing.restoreAtSec, replicas.length),
    p99BeforeMs: p99Of(2, timing.cutAtSec),
    p99DuringMs: p99Of(timing.cutAtSec, timing.restoreAtSec),
    p99AfterMs: p99Of(timing.restoreAtSec + 5, timing.totalSec),
  };
}

/**
 * Seconds from the cut until the victim's share of the calls answered stayed under half of an equal share for three
 * seconds in a row (one second alone can be a scrape that came late); NaN if it never did before the restore.
 */
export function shareFallSec(seconds: readonly SlowdownSecond[], cutAtSec: number, restoreAtSec: number, replicas: number): number {
  const low = (s?: SlowdownSecond) => s !== undefined && s.share < 0.5 / replicas;
  const during = seconds.filter((s) => s.t > cutAtSec && s.t <= restoreAtSec);
  const at = during.findIndex((s, i) => low(s) && low(during[i + 1]) && low(during[i + 2]));
  return at < 0 ? Number.NaN : during[at]!.t - cutAtSec;
}
