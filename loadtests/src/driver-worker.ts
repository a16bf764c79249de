#!/usr/bin/env node
// The Node load engine in a process of its own, as k6 is one: the capacity experiment measures its CPU apart from the
// experiment's own work (scrapes, the live page). Spec as JSON in argv[2]; new target sets as JSON lines on stdin
// ({"baseUrls": [...]} or {"grpcTarget": "ipv4:..."}), followed within a second; progress on stderr; the result, with
// the CPU this process used, as one JSON line on stdout.
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { runClosedLoop, runOpenLoop, type LoadBalancing, type LoadResult, type LoadSnapshot } from './driver.js';
import { loadScenarios, type ScenarioContext } from './scenarios.js';

export interface WorkerSpec {
  scenario: string;
  context: ScenarioContext;
  seconds: number;
  /** Open loop at this many arrivals per second… */
  rate?: number;
  /** …or a closed loop with this many requests outstanding. */
  concurrency?: number;
  baseUrls?: string[];
  grpcTarget?: string;
  startIndex?: number;
  timeoutMs?: number;
  loadBalancing?: LoadBalancing;
}

export interface WorkerResult extends LoadResult {
  /** CPU seconds (user + system) this process used, start-up and the run. */
  cpuSeconds: number;
  /**
   * Share of the run (0–1) the engine's event loop was not waiting for I/O: running its own code, or runnable and
   * waiting for a CPU. Near 1, the driver could not have sent or read a call sooner, whatever its CPU says.
   */
  eventLoopUtilization: number;
}

const spec = JSON.parse(process.argv[2]!) as WorkerSpec;
const scenario = (await loadScenarios())[spec.scenario];
if (!scenario) throw new Error(`unknown scenario ${spec.scenario}`);
let baseUrls = spec.baseUrls ?? [];
let grpcTarget = spec.grpcTarget ?? '';
createInterface({ input: process.stdin }).on('line', (line) => {
  const update = JSON.parse(line) as Partial<WorkerSpec>;
  if (update.baseUrls) baseUrls = update.baseUrls;
  if (update.grpcTarget) grpcTarget = update.grpcTarget;
});
const common = {
  scenario,
  context: spec.context,
  durationSec: spec.seconds,
  baseUrls: () => baseUrls,
  grpcTarget: () => grpcTarget,
  startIndex: spec.startIndex,
  timeoutMs: spec.timeoutMs,
  loadBalancing: spec.loadBalancing,
  onProgress: (s: LoadSnapshot) => process.stderr.write(`${JSON.stringify(s)}\n`),
};
const loopBefore = performance.eventLoopUtilization();
const result =
  spec.concurrency !== undefined
    ? await runClosedLoop({ ...common, concurrency: spec.concurrency })
    : await runOpenLoop({ ...common, rate: spec.rate! });
const cpu = process.cpuUsage();
const out: WorkerResult = {
  ...result,
  cpuSeconds: (cpu.user + cpu.system) / 1e6,
  eventLoopUtilization: performance.eventLoopUtilization(loopBefore).utilization,
};
process.stdout.write(`${JSON.stringify(out)}\n`);
process.exit(0);
