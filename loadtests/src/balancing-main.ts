#!/usr/bin/env node
// npm run report:balancing [-- --repeats 3 --no-build] — round_robin against weighted_round_robin, in containers:
// pricing's four replicas (k8s/overlays/capacity run by k8s:docker, 0.15 CPU each: --cpus) called straight over gRPC by the Node load driver,
// whose channel's policy is the one compared. (1) Unequal replicas: one of four at half the CPU quota, saturation
// throughput with each policy, repeated. (2) A replica that turns slow under load: an open loop at ~50 % of what the
// four serve, one replica's quota cut to a quarter for 20 s, per second its share of the calls and the p99, with each
// policy. Writes reports/balancing.md, balancing-unequal.svg, balancing-slowdown.svg and balancing.json.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exitOnMissingPrerequisite, parseCommandLine, requireDocker } from '@strata/preflight';
import { REPO_ROOT, loadServices } from '@strata/service-registry';
import { NodeDriver } from './capacity/drivers.js';
import { ManifestsTarget } from './capacity/manifests-target.js';
import { median } from './capacity/statistics.js';
import {
  POLICIES,
  shareFallSec,
  slowdown,
  unequalReplicas,
  type BalancingPlan,
  type SlowdownRun,
  type UnequalRun,
} from './balancing/experiment.js';
import { balancingReport, slowdownChartSvg, unequalChartSvg } from './balancing/report.js';
import { buildImages } from './images.js';
import { loadScenarios } from './scenarios.js';

exitOnMissingPrerequisite();
const { values } = parseCommandLine(import.meta.url, {
  options: {
    cpus: {
      type: 'string',
      default: '0.15',
      description: "a replica's CPU quota (the slow one gets half), as the capacity experiment gives pricing",
    },
    repeats: { type: 'string', default: '3', description: 'saturation runs per policy (the report gives their median and range)' },
    'measure-seconds': { type: 'string', default: '15', description: 'seconds counted of each saturation run (after 5 s to settle)' },
    out: { type: 'string', default: join(REPO_ROOT, 'reports'), description: 'where balancing.md, its charts and JSON go' },
    tag: { type: 'string', default: process.env.TAG ?? 'dev', description: 'the image tag ($TAG)' },
    'no-build': { type: 'boolean', default: false, description: 'use the images already built (npm run images, images:postgres)' },
    redraw: { type: 'boolean', default: false, description: 'run nothing: write balancing.md and the charts again from balancing.json' },
  },
});

const registry = loadServices();
const service = 'pricing';
const capacity = registry.get(service).capacity;
const scenarios = await loadScenarios();
const time = () => new Date().toISOString().slice(11, 19);
const log = (line: string) => console.log(`${time()} ${line}`);
const plan: BalancingPlan = {
  service,
  scenarioName: capacity.scenario,
  scenario: scenarios[capacity.scenario]!,
  context: { runId: `balancing-${Date.now()}` },
  cpusPerReplica: Number(values.cpus),
  // 8 outstanding per replica: enough to keep four busy; pricing's 32 for the capacity search queued seconds of calls
  // at a half-quota replica under round_robin (p99 5.8–8.5 s, calls past their deadline).
  concurrency: 4 * 8,
  warmUpSec: 5,
  measureSec: Number(values['measure-seconds']),
  repeats: Number(values.repeats),
  log,
};
/** Writes balancing.md, its charts and balancing.json. */
async function write(unequal: UnequalRun[], slow: SlowdownRun[], meta: { date: string; commit: string; driver: string }): Promise<void> {
  const saved = { meta, plan: { ...plan, scenario: undefined, log: undefined }, unequal, slow };
  writeFileSync(join(values.out!, 'balancing.json'), `${JSON.stringify(saved, null, 2)}\n`);
  writeFileSync(join(values.out!, 'balancing-unequal.svg'), await unequalChartSvg(unequal, plan));
  writeFileSync(join(values.out!, 'balancing-slowdown.svg'), await slowdownChartSvg(slow, plan));
  writeFileSync(join(values.out!, 'balancing.md'), balancingReport(unequal, slow, plan, meta));
  log(`wrote ${join(values.out!, 'balancing.md')} and its charts`);
}

if (values.redraw) {
  const saved = JSON.parse(readFileSync(join(values.out!, 'balancing.json'), 'utf8')) as {
    meta: { date: string; commit: string; driver: string };
    plan: Partial<BalancingPlan>;
    unequal: UnequalRun[];
    slow: SlowdownRun[];
  };
  Object.assign(plan, saved.plan, { scenario: plan.scenario, log });
  // The JSON keeps every second; what is derived from them is derived again (NaN was written as null).
  const slow = saved.slow.map((r) => {
    const seconds = r.seconds.map((s) => ({ ...s, share: s.share ?? Number.NaN, p99Ms: s.p99Ms ?? Number.NaN }));
    return { ...r, seconds, shareFallSec: shareFallSec(seconds, r.cutAtSec, r.restoreAtSec, 4) };
  });
  await write(saved.unequal, slow, saved.meta);
  process.exit(0);
}

const docker = requireDocker('the balancing experiment runs in containers: start Docker');
if (!values['no-build']) buildImages();
const cpus = Object.fromEntries(registry.services.map((s) => [s.name, s.name === service ? plan.cpusPerReplica : s.capacity.fixedCpus]));
log(`starting k8s/overlays/capacity in containers, ${service} at 4 replicas of ${plan.cpusPerReplica} CPU …`);
const target = await ManifestsTarget.start(service, 4, cpus, { tag: values.tag!, log, placement: { name: 'shared' } });
const driver = new NodeDriver();
try {
  log(`unequal replicas: ${plan.repeats} × ${POLICIES.join(' and ')}, ${plan.warmUpSec + plan.measureSec} s each`);
  const unequal = await unequalReplicas(target, driver, docker, plan);
  // Half of what four equal replicas serve (a fast replica's rate from the weighted runs: 3.5 fast replicas' worth),
  // so that three can carry it while the fourth is slow: at 60 % the three ran at 85 % of their quota and failed calls.
  const fast = median(unequal.filter((r) => r.policy === 'weighted_round_robin').map((r) => r.throughput)) / 3.5;
  const rate = Math.round(0.5 * 4 * fast);
  const slow: SlowdownRun[] = [];
  for (const policy of [...POLICIES].reverse()) {
    log(`a replica turning slow under load, ${policy}: ${rate} calls/s for 45 s …`);
    const run = await slowdown(target, driver, docker, plan, policy, rate);
    log(
      `  share fell after ${Number.isFinite(run.shareFallSec) ? `${run.shareFallSec} s` : 'never'}; p99 ${run.p99BeforeMs.toFixed(0)} / ${run.p99DuringMs.toFixed(0)} / ${run.p99AfterMs.toFixed(0)} ms; ${run.failed} failed`,
    );
    slow.push(run);
  }
  const commit = execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], { cwd: REPO_ROOT, encoding: 'utf8' }).trim();
  const meta = { date: new Date().toISOString().slice(0, 10), commit, driver: `the Node load driver (${process.version})` };
  await write(unequal, slow, meta);
} finally {
  await target.stop();
}
