import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { setTimeout as delay } from 'node:timers/promises';
import { checkHealth } from '@strata/service-kit';
import { SERVICE_NODE_OPTIONS } from '@strata/service-registry';
import type { LoadResult } from './bench-load.js';

// How the bench measures: subjects in processes of their own, the load on each in another kept for the section
// (main.ts `load`), CPU per call from the scheduler's account over each measured stretch, variants alternated round
// by round at one offered rate.

/** The bench's entry point, which runs a server variant (`server …`) or the load (`load …`) in a process. */
export const BENCH_MAIN = fileURLToPath(new URL('./main.js', import.meta.url));
export const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
export const SECONDS = Number(process.env.BENCH_SECONDS ?? 4);
export const INFLIGHT = Number(process.env.BENCH_INFLIGHT ?? 64);
/** Load right before each measured run, not measured: every variant is measured hot (each stretch of a LoadProcess begins with it). */
const WARMUP_SECONDS = Number(process.env.BENCH_WARMUP_SECONDS ?? 1);
/**
 * Load on each variant of a section before its first round, not measured. A subject that sat idle while the sections
 * before it ran is cold (its JIT and GC heuristics): the traced gateway → catalog pairs, idle for ten minutes before
 * section 4, cost 1.5 times their later figure in their first 5 s of load and settled after about 10 s
 * (docs/performance.md, "Method").
 */
const PREHEAT_SECONDS = Number(process.env.BENCH_PREHEAT_SECONDS ?? 10);
/**
 * The measured rounds offer every variant of a section the same rate: this share of the slowest variant's throughput
 * in the warm-up round (flat out). A subject's CPU per call depends on how many calls it handles per wake-up of its
 * event loop, and flat out (a closed loop) that follows the rate each round happened to reach: 4,800–6,900 calls/s for
 * the same bare server in one run of 2026-12-07, which then cost 58–84 µs per call (docs/performance.md, "Method").
 * BENCH_RATE_SHARE=0: flat out, as before.
 */
export const RATE_SHARE = Number(process.env.BENCH_RATE_SHARE ?? 0.6);
/**
 * At one offered rate (an open loop), the calls a variant's load may have outstanding: more than a closed loop's, so
 * that after a pause of the load process (a GC) its arrivals are sent late rather than dropped, and every variant is
 * offered the same calls.
 */
export const PACED_MAX_INFLIGHT = 16 * INFLIGHT;

/**
 * Where the processes run: the load generator (and this orchestrator, the OTLP receiver, the embedded PostgreSQL) on
 * CPU 0, every subject on CPU 1 (`taskset`), so that the measured processes never wait behind the load that drives
 * them or migrate between cores mid-round (docs/performance.md, "Method"). BENCH_PIN=0 turns it off.
 */
export const PINNED = process.env.BENCH_PIN !== '0' && availableParallelism() >= 2 && hasTaskset();
const LOAD_CPU = '0';
const SUBJECT_CPU = '1';
function hasTaskset(): boolean {
  try {
    execFileSync('taskset', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
/** The command line of a process pinned to `cpu` (taskset execs it: the pid is the process's own). */
const pinned = (cpu: string, args: string[]): [string, string[]] =>
  PINNED ? ['taskset', ['-c', cpu, process.execPath, ...args]] : [process.execPath, args];
/** Runs this bench's entry point with `args` in a process of its own on the subjects' CPU; its standard output. */
export async function runOnSubjectCpu(args: string[]): Promise<string> {
  const [command, commandArgs] = pinned(SUBJECT_CPU, [BENCH_MAIN, ...args]);
  const child = spawn(command, commandArgs, { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`bench ${args[0]} exited with ${code}`);
  return out;
}
/** Pins this process (the orchestrator, the receiver and the database it runs in-process) to the load's CPU. */
export function pinOrchestrator(): void {
  if (PINNED) execFileSync('taskset', ['-a', '-p', '-c', LOAD_CPU, String(process.pid)], { stdio: 'ignore' });
}
/**
 * CPU time of every thread of `pid` so far, in µs, from the scheduler's own account (`/proc/<pid>/task/<tid>/schedstat`,
 * nanoseconds): `/proc/<pid>/stat` counts in 10 ms ticks, too coarse for a subject that gets a share of a core for 4 s.
 */
function cpuUs(pid: number): number {
  let ns = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return ns / 1000;
}

const children: ChildProcess[] = [];
process.on('exit', () => children.forEach((c) => c.kill('SIGKILL')));

/**
 * The load on one variant, in a process of its own on the load's CPU, kept for the whole section: its channel or its
 * keep-alive connections stay open from one stretch to the next (main.ts `load`). One stretch at a time.
 */
class LoadProcess {
  readonly #child: ChildProcess;
  #lines = '';
  #pending?: { onMeasuring: () => void; resolve: (result: LoadResult) => void; reject: (error: Error) => void };

  constructor(kind: 'grpc' | 'http', target: string) {
    const [command, args] = pinned(LOAD_CPU, [BENCH_MAIN, 'load', kind, target, String(INFLIGHT)]);
    this.#child = spawn(command, args, { stdio: ['pipe', 'pipe', 'inherit'] });
    children.push(this.#child);
    this.#child.stdout!.on('data', (d: Buffer) => {
      this.#lines += d;
      for (let end = this.#lines.indexOf('\n'); end >= 0; end = this.#lines.indexOf('\n')) {
        const line = this.#lines.slice(0, end);
        this.#lines = this.#lines.slice(end + 1);
        if (line === 'measuring') this.#pending?.onMeasuring();
        else {
          const pending = this.#pending;
          this.#pending = undefined;
          pending?.resolve(JSON.parse(line) as LoadResult);
        }
      }
    });
    this.#child.once('exit', (code) => this.#pending?.reject(new Error(`the bench's load process exited with ${code}`)));
  }

  /** `warmupSeconds` of load not counted, `onMeasuring()`, then `seconds` counted; at `rate` calls/s, or a closed loop. */
  stretch(seconds: number, warmupSeconds: number, onMeasuring: () => void, rate?: number): Promise<LoadResult> {
    return new Promise((resolve, reject) => {
      this.#pending = { onMeasuring, resolve, reject };
      this.#child.stdin!.write(`${seconds} ${warmupSeconds}${rate === undefined ? '' : ` ${rate} ${PACED_MAX_INFLIGHT}`}\n`);
    });
  }

  /** Ends the load process (it closes its connections when its input ends). */
  close(): Promise<void> {
    return new Promise((resolve) => {
      this.#child.once('exit', () => resolve());
      this.#child.stdin!.end();
    });
  }
}

/** Times the main thread (the event loop) gave up its CPU to wait: how often it slept and woke for more work. */
function wakeups(pid: number): number {
  return Number(/voluntary_ctxt_switches:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN);
}

interface Measured {
  result: LoadResult;
  cpuUsPerCall: Record<string, number>;
  /** Event-loop wake-ups per call: fewer means more calls handled per wake-up (and per read and write). */
  wakeupsPerCall: Record<string, number>;
  /** Bytes allocated on the JS heap per call (`allocatedSoFar`). */
  bytesPerCall: Record<string, number>;
}

/** One measured stretch of `load` while reading the CPU of the `watched` processes. */
async function measure(
  load: LoadProcess,
  watched: Record<string, number>,
  warmupSeconds = WARMUP_SECONDS,
  rate?: number,
): Promise<Measured> {
  let before: Record<string, number> = {};
  let woken: Record<string, number> = {};
  let allocated: Record<string, number> = {};
  const result = await load.stretch(
    SECONDS,
    warmupSeconds,
    () => {
      before = Object.fromEntries(Object.entries(watched).map(([k, pid]) => [k, cpuUs(pid)]));
      woken = Object.fromEntries(Object.entries(watched).map(([k, pid]) => [k, wakeups(pid)]));
      allocated = Object.fromEntries(Object.entries(watched).map(([k, pid]) => [k, allocatedBytes(pid)]));
    },
    rate,
  );
  const perCall = (read: (pid: number) => number, from: Record<string, number>) =>
    Object.fromEntries(Object.entries(watched).map(([k, pid]) => [k, (read(pid) - from[k]!) / result.completed]));
  return {
    result,
    cpuUsPerCall: perCall(cpuUs, before),
    wakeupsPerCall: perCall(wakeups, woken),
    bytesPerCall: perCall(allocatedBytes, allocated),
  };
}

/**
 * What each subject has allocated so far, summed from V8's `--trace-gc-nvp` line per GC (`allocated=`: bytes since
 * the previous GC): bytes per call follow the code path, not the speed the VM's core happens to run at, so they hold
 * from run to run where CPU time moves (docs/performance.md, "Method").
 */
const allocatedSoFar = new Map<number, { bytes: number }>();
const GC_LINE = /\ballocated=(\d+)\b/;

export async function startProcess(args: string[], env: Record<string, string> = {}): Promise<number> {
  const [command, commandArgs] = pinned(SUBJECT_CPU, ['--trace-gc-nvp', ...args]);
  const child = spawn(command, commandArgs, {
    // Every server, bare or not, with the Node options Strata's services run with.
    env: { ...process.env, NODE_OPTIONS: SERVICE_NODE_OPTIONS, LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  const totals = { bytes: 0 };
  allocatedSoFar.set(child.pid!, totals);
  let partial = '';
  child.stdout!.on('data', (d: Buffer) => {
    const lines = (partial + d).split('\n');
    partial = lines.pop()!;
    for (const line of lines) {
      const gc = GC_LINE.exec(line);
      if (gc) totals.bytes += Number(gc[1]);
    }
  });
  return child.pid!;
}
const allocatedBytes = (pid: number) => allocatedSoFar.get(pid)?.bytes ?? NaN;

export async function waitGrpc(port: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    try {
      await checkHealth(`127.0.0.1:${port}`, '', 300);
      return;
    } catch (error) {
      // Bare servers have no health service: UNIMPLEMENTED still proves that they listen.
      if ((error as { code?: number }).code === 12) return;
    }
    await delay(50);
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
export const fmt = (n: number, digits = 0) => (Number.isFinite(n) ? n.toFixed(digits) : '-');

/**
 * How a section's variants are measured round by round:
 * - `alternate` (the default): A B C A B C …, each alone on its core while it is measured; every ratio is taken
 *   between the variants of one round (`pairedRatio`), a few seconds apart;
 * - `together` (BENCH_SCHEDULE=together): every variant's load at the same time, so that the variants of a round meet
 *   the same moment of the machine. Not the default: the subjects then share CPU 1 and evict each other's caches,
 *   which raised every figure by about half and charged the variants with more code (tracing on) far more than the
 *   rest (one in ten sampled × 1.7 against × 1.1–1.3 alternating; docs/performance.md, "Method").
 */
export const SCHEDULE = process.env.BENCH_SCHEDULE === 'together' ? 'together' : 'alternate';

export interface Variant {
  name: string;
  kind: 'grpc' | 'http';
  target: string;
  /** The processes whose CPU is this variant's: none may be another variant's (with `together`, they run at once). */
  watched: Record<string, number>;
}
export interface VariantResult {
  rate: number;
  p50: number;
  p99: number;
  errors: number;
  /** Median over the rounds of the CPU per call of each watched process. */
  cpu: Record<string, number>;
  /** The spread of the rounds: min and max CPU per call of each watched process. */
  spread: Record<string, string>;
  /** Median over the rounds of the bytes allocated per call by each watched process. */
  bytes: Record<string, number>;
  /** Each round's CPU per call of each watched process (for ratios taken within a round: `pairedRatio`). */
  rounds: Record<string, number>[];
}

/** Measures the variants for ROUNDS rounds (SCHEDULE) after one warm-up round of PREHEAT_SECONDS of load each; returns medians. */
export async function measureRounds(variants: Variant[]): Promise<Map<string, VariantResult>> {
  const runs = new Map<string, Measured[]>(variants.map((v) => [v.name, []]));
  const warmupRates = new Map<string, number>();
  const report = (label: string, v: Variant, m: Measured) =>
    process.stderr.write(
      `  ${label}: ${v.name} … ${fmt(m.result.achievedRate)} calls/s${m.result.failed + m.result.dropped > 0 ? ` (${m.result.failed} failed, ${m.result.dropped} dropped)` : ''}, CPU µs/call ${Object.entries(
        m.cpuUsPerCall,
      )
        .map(([k, cpu]) => `${k} ${fmt(cpu)} (${fmt(m.wakeupsPerCall[k]!, 2)} wake-ups, ${fmt(m.bytesPerCall[k]! / 1024, 1)} KB)`)
        .join(', ')}\n`,
    );
  const loads = variants.map((v) => new LoadProcess(v.kind, v.target));
  let rate: number | undefined;
  for (let round = 0; round <= ROUNDS; round++) {
    const label = round === 0 ? 'warm-up' : `round ${round}/${ROUNDS}`;
    const warmup = round === 0 ? PREHEAT_SECONDS : undefined;
    if (round === 1 && RATE_SHARE > 0) {
      // The warm-up ran each variant flat out (a closed loop); every measured round offers them all the same rate.
      const slowest = Math.min(...[...runs.keys()].map((name) => warmupRates.get(name)!));
      rate = Math.max(100, Math.round((slowest * RATE_SHARE) / 100) * 100);
      process.stderr.write(`  every variant measured at ${rate} calls/s (${RATE_SHARE} × the slowest in the warm-up, ${fmt(slowest)}/s)\n`);
    }
    // Every other round in the reverse order (A B C, C B A, …): a drift of the machine's speed over a round then
    // favours no variant.
    const order = [...variants.keys()];
    if (round % 2 === 0) order.reverse();
    const measured = new Map<number, Measured>();
    if (SCHEDULE === 'together')
      await Promise.all(order.map(async (i) => measured.set(i, await measure(loads[i]!, variants[i]!.watched, warmup, rate))));
    else for (const i of order) measured.set(i, await measure(loads[i]!, variants[i]!.watched, warmup, rate));
    for (const [i, v] of variants.entries()) {
      report(label, v, measured.get(i)!);
      if (round > 0) runs.get(v.name)!.push(measured.get(i)!);
      else warmupRates.set(v.name, measured.get(i)!.result.achievedRate);
    }
  }
  await Promise.all(loads.map((load) => load.close()));
  return new Map(
    [...runs].map(([name, ms]) => [
      name,
      {
        rate: median(ms.map((m) => m.result.achievedRate)),
        p50: median(ms.map((m) => m.result.latencyMs.p50)),
        p99: median(ms.map((m) => m.result.latencyMs.p99)),
        errors: ms.reduce((a, m) => a + m.result.failed + m.result.dropped, 0),
        cpu: Object.fromEntries(Object.keys(ms[0]!.cpuUsPerCall).map((k) => [k, median(ms.map((m) => m.cpuUsPerCall[k]!))])),
        spread: Object.fromEntries(
          Object.keys(ms[0]!.cpuUsPerCall).map((k) => {
            const xs = ms.map((m) => m.cpuUsPerCall[k]!);
            return [k, `${fmt(Math.min(...xs))}–${fmt(Math.max(...xs))}`];
          }),
        ),
        bytes: Object.fromEntries(Object.keys(ms[0]!.bytesPerCall).map((k) => [k, median(ms.map((m) => m.bytesPerCall[k]!))])),
        rounds: ms.map((m) => m.cpuUsPerCall),
      },
    ]),
  );
}

/**
 * `name`'s CPU per call against `reference`'s, as the median over the rounds of the ratio within each round (the
 * variants of a round met the same machine); `watched` names the one process that counts (default: all of them).
 */
export function pairedRatio(results: Map<string, VariantResult>, name: string, reference: string, watched?: string): number {
  const subject = results.get(name)?.rounds;
  const base = results.get(reference)?.rounds;
  if (!subject || !base) return NaN;
  const cost = (cpu: Record<string, number>) => (watched ? cpu[watched]! : Object.values(cpu).reduce((a, b) => a + b, 0));
  return median(subject.map((cpu, i) => cost(cpu) / cost(base[i]!)));
}
