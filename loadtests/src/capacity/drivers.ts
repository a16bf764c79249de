import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { MissingPrerequisite } from '@strata/preflight';
import { loadServices } from '@strata/service-registry';
import type { LoadBalancing, LoadSnapshot } from '../driver.js';
import type { WorkerResult, WorkerSpec } from '../driver-worker.js';
import { LOADTESTS_ROOT, type Scenario, type ScenarioContext } from '../scenarios.js';
import type { ProbeOutcome } from './search.js';

/** Where one run's load goes; asked again while it runs, since replicas come and go. */
export interface LoadEndpoints {
  /** Base URLs of the edge's replicas (HTTP scenarios). */
  baseUrls(): string[];
  /** host:port of every replica of `service` (gRPC scenarios). */
  grpcAddresses(service: string): string[];
}

export interface DriverRun {
  scenarioName: string;
  scenario: Scenario;
  context: ScenarioContext;
  seconds: number;
  /** Open loop at this rate, or… */
  rate?: number;
  /** …a closed loop with this many requests outstanding (saturation). */
  concurrency?: number;
  startIndex: number;
  onProgress?: (line: string) => void;
  /** The driver's snapshot about once a second (the Node engine only), with the p99 of that second. */
  onSnapshot?: (snapshot: LoadSnapshot) => void;
  /** gRPC scenarios: the channel's balancing (the Node engine only; default the kit's weighted_round_robin). */
  loadBalancing?: LoadBalancing;
}

export interface DriverResult extends ProbeOutcome {
  sent: number;
  completed: number;
  p50Ms: number;
  seconds: number;
  errors: Record<string, number>;
  /** CPU the driver's process used during the run, in seconds. */
  cpuSeconds: number;
  /** The Node engine: its event loop's utilization over the run (0–1); k6 (Go, many threads) has none. */
  eventLoopUtilization?: number;
}

/** A load generator the experiment can run a probe with. */
export interface LoadDriver {
  readonly name: 'node' | 'k6';
  readonly version: string;
  /** Whether it follows replicas added during a run (a live scale-out must be measured with such a driver). */
  readonly followsEndpoints: boolean;
  run(run: DriverRun, endpoints: LoadEndpoints): Promise<DriverResult>;
}

const ipv4 = (addresses: string[]) => `ipv4:${addresses.join(',')}`;
const registry = loadServices();

/** CPU seconds of a process so far (utime + stime of /proc/<pid>/stat; 100 ticks a second). */
export function processCpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Strata's own Node engine (loadtests/src/driver.ts) in a child process: open or closed loop, HTTP or gRPC. */
export class NodeDriver implements LoadDriver {
  readonly name = 'node';
  readonly version = process.version;
  readonly followsEndpoints = true;

  async run(run: DriverRun, endpoints: LoadEndpoints): Promise<DriverResult> {
    const targets = () =>
      run.scenario.protocol === 'grpc'
        ? { grpcTarget: ipv4(endpoints.grpcAddresses(run.scenario.layer)) }
        : { baseUrls: endpoints.baseUrls() };
    const spec: WorkerSpec = {
      scenario: run.scenarioName,
      context: run.context,
      seconds: run.seconds,
      rate: run.rate,
      concurrency: run.concurrency,
      startIndex: run.startIndex,
      loadBalancing: run.loadBalancing,
      ...targets(),
    };
    const child = spawn(process.execPath, [join(LOADTESTS_ROOT, 'dist', 'driver-worker.js'), JSON.stringify(spec)], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let last = JSON.stringify(targets());
    const follow = setInterval(() => {
      const now = JSON.stringify(targets());
      if (now !== last) child.stdin!.write(`${(last = now)}\n`);
    }, 500);
    let out = '';
    let err = '';
    child.stdout!.on('data', (d: Buffer) => (out += d));
    child.stderr!.on('data', (d: Buffer) => {
      err += d;
      const lines = err.split('\n');
      err = lines.pop()!;
      for (const line of lines) {
        if (!line.startsWith('{')) continue;
        const s = JSON.parse(line) as LoadSnapshot;
        run.onSnapshot?.(s);
        run.onProgress?.(
          `${s.elapsedSec.toFixed(0)} s, sent ${s.sent}, ok ${s.completed}, failed ${s.failed}, dropped ${s.dropped}, in flight ${s.inFlight}`,
        );
      }
    });
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    clearInterval(follow);
    if (code !== 0) throw new Error(`the load driver exited with ${code}: ${err.slice(-2000)}`);
    const r = JSON.parse(out.trim().split('\n').pop()!) as WorkerResult;
    return {
      rate: run.rate ?? Number.NaN,
      achievedRate: r.achievedRate,
      failed: r.failed,
      dropped: r.dropped,
      p99Ms: r.latencyMs.p99,
      p50Ms: r.latencyMs.p50,
      sent: r.sent,
      completed: r.completed,
      seconds: run.seconds,
      errors: r.errors,
      cpuSeconds: r.cpuSeconds,
      eventLoopUtilization: r.eventLoopUtilization,
    };
  }
}

/** k6 as users find it: $K6, then PATH, then the copy beside the repository (../shared/bin/k6). */
export function findK6(repoRoot: string = registry.repoRoot): string | undefined {
  const candidates = [
    process.env.K6,
    ...(process.env.PATH ?? '').split(delimiter).map((dir) => join(dir, 'k6')),
    join(repoRoot, '..', 'shared', 'bin', 'k6'),
  ];
  return candidates.find((path) => path && existsSync(path) && spawnSync(path, ['version'], { stdio: 'ignore' }).status === 0);
}

interface K6Summary {
  metrics: Record<
    string,
    { count?: number; rate?: number; passes?: number; fails?: number; value?: number; med?: number; 'p(99)'?: number }
  >;
}

/**
 * k6 (the tool users run against minikube) running the same scenario module through `loadtests/k6/lib/capacity.js`:
 * constant-arrival-rate for an open-loop probe, constant-vus for saturation. It reads the targets once at start, so
 * it measures a fixed topology; live scale-outs are driven by the Node engine, which follows the endpoints.
 */
export class K6Driver implements LoadDriver {
  readonly name = 'k6';
  readonly followsEndpoints = false;
  readonly version: string;

  constructor(private readonly binary: string) {
    this.version = spawnSync(binary, ['version'], { encoding: 'utf8' }).stdout.trim().split(' ').slice(0, 2).join(' ');
  }

  async run(run: DriverRun, endpoints: LoadEndpoints): Promise<DriverResult> {
    const dir = mkdtempSync(join(tmpdir(), 'strata-k6-capacity-'));
    const module = registry.services.find((s) => s.name === run.scenario.layer)?.load.scenarios;
    if (!module) throw new Error(`no scenario module declares ${run.scenarioName}`);
    const script = join(dir, 'probe.js');
    writeFileSync(
      script,
      [
        `import { ${run.scenarioName} as scenarioOf } from ${JSON.stringify(join(registry.repoRoot, module))};`,
        `import { capacityIteration, capacityOptions } from ${JSON.stringify(join(LOADTESTS_ROOT, 'k6', 'lib', 'capacity.js'))};`,
        `export const options = capacityOptions(${JSON.stringify(run.scenarioName)});`,
        'export default capacityIteration(scenarioOf);',
        '',
      ].join('\n'),
    );
    const summaryFile = join(dir, 'summary.json');
    const env: Record<string, string> = {
      MODE: run.concurrency !== undefined ? 'closed' : 'open',
      RATE: String(run.rate ?? 0),
      VUS: String(run.concurrency ?? 0),
      DURATION: `${run.seconds}s`,
      START_INDEX: String(run.startIndex),
      RUN_ID: run.context.runId,
      ...(run.context.orderId ? { ORDER_ID: run.context.orderId } : {}),
      ...(run.scenario.protocol === 'grpc'
        ? { TARGETS: endpoints.grpcAddresses(run.scenario.layer).join(',') }
        : { BASE_URLS: endpoints.baseUrls().join(',') }),
    };
    const args = [
      'run',
      '--quiet',
      '--no-color',
      '--summary-export',
      summaryFile,
      ...Object.entries(env).flatMap(([k, v]) => ['-e', `${k}=${v}`]),
      script,
    ];
    const child: ChildProcess = spawn(this.binary, args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: dir });
    let output = '';
    child.stdout!.on('data', (d: Buffer) => (output += d));
    child.stderr!.on('data', (d: Buffer) => (output += d));
    // k6 is quiet here; its CPU is read from /proc while it runs (the last reading is kept).
    let cpuSeconds = 0;
    const started = performance.now();
    const poll = setInterval(() => {
      try {
        cpuSeconds = processCpuSeconds(child.pid!);
      } catch {
        // exited
      }
      if (Math.round((performance.now() - started) / 200) % 5 === 0)
        run.onProgress?.(`${((performance.now() - started) / 1000).toFixed(0)} s (k6)`);
    }, 200);
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    clearInterval(poll);
    if (code !== 0 || !existsSync(summaryFile)) throw new Error(`k6 exited with ${code}:\n${output.slice(-3000)}`);
    const m = (JSON.parse(readFileSync(summaryFile, 'utf8')) as K6Summary).metrics;
    rmSync(dir, { recursive: true, force: true });
    const grpc = run.scenario.protocol === 'grpc';
    const sent = grpc ? (m.checks?.passes ?? 0) + (m.checks?.fails ?? 0) : (m.http_reqs?.count ?? 0);
    const failed = grpc ? (m.checks?.fails ?? 0) : (m.http_req_failed?.passes ?? 0);
    const duration = grpc ? m.grpc_req_duration : m.http_req_duration;
    return {
      rate: run.rate ?? Number.NaN,
      achievedRate: (sent - failed) / run.seconds,
      failed,
      dropped: m.dropped_iterations?.count ?? 0,
      p99Ms: duration?.['p(99)'] ?? Number.NaN,
      p50Ms: duration?.med ?? Number.NaN,
      sent,
      completed: sent - failed,
      seconds: run.seconds,
      errors: failed > 0 ? { [grpc ? 'grpc status not OK' : 'HTTP not 2xx']: failed } : {},
      cpuSeconds,
    };
  }
}

/**
 * k6 for HTTP scenarios, the Node engine for gRPC ones. k6's gRPC client (dynamic messages from reflection) cost about
 * 0.45 ms of CPU per call here — 1,077 Quote calls/s took 0.48 of the host's 2 cores — so at the rates of the layers
 * stepped over gRPC the driver, not the layer, would run out first; grpc-js in the Node engine costs a fraction of that.
 */
export class HttpK6GrpcNode implements LoadDriver {
  readonly name = 'k6';
  readonly followsEndpoints = false;
  readonly version: string;
  private readonly node = new NodeDriver();

  constructor(private readonly k6: K6Driver) {
    this.version = `${k6.version.replace(/^k6 /, '')} (HTTP), the Node engine ${process.version} (gRPC)`;
  }

  run(run: DriverRun, endpoints: LoadEndpoints): Promise<DriverResult> {
    return run.scenario.protocol === 'grpc' ? this.node.run(run, endpoints) : this.k6.run(run, endpoints);
  }
}

/**
 * The driver the user asked for: `node`, `k6` (every probe under k6), or by default k6 for HTTP and the Node engine for
 * gRPC when a k6 is found, the Node engine alone when none is.
 */
export function chooseDriver(wanted: string | undefined, log: (line: string) => void): LoadDriver {
  if (wanted === 'node') return new NodeDriver();
  const k6 = findK6();
  if (wanted === 'k6' && !k6)
    throw new MissingPrerequisite(
      'k6 is not installed ($K6, PATH or ../shared/bin/k6), and --driver k6 needs it: install k6 (https://grafana.com/docs/k6/latest/set-up/install-k6/) or use --driver node',
    );
  if (k6) return wanted === 'k6' ? new K6Driver(k6) : new HttpK6GrpcNode(new K6Driver(k6));
  log('no k6 found ($K6, PATH or ../shared/bin/k6): the Node load driver runs the probes');
  return new NodeDriver();
}
