import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { setTimeout as delay } from 'node:timers/promises';
import { checkHealth } from '@strata/service-kit';
import { SERVICE_NODE_OPTIONS } from '@strata/service-registry';
import type { LoadResult } from './bench-load.js';

// How the bench measures: subjects in processes of their own, the load in another (main.ts `load`), CPU per call
// from /proc/<pid>/stat over each measured run, variants alternated round by round.

/** The bench's entry point, which runs a server variant (`server …`) or the load (`load …`) in a process. */
export const BENCH_MAIN = fileURLToPath(new URL('./main.js', import.meta.url));
export const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
export const SECONDS = Number(process.env.BENCH_SECONDS ?? 4);
export const INFLIGHT = Number(process.env.BENCH_INFLIGHT ?? 64);
/** Load right before each measured run, not measured: every variant is measured hot (see benchLoad). */
const WARMUP_SECONDS = Number(process.env.BENCH_WARMUP_SECONDS ?? 1);
/**
 * Load on each variant of a section before its first round, not measured. A subject that sat idle while the sections
 * before it ran is cold (its JIT and GC heuristics): the traced gateway → catalog pairs, idle for ten minutes before
 * section 4, cost 1.5 times their later figure in their first 5 s of load and settled after about 10 s
 * (docs/performance.md, "Method").
 */
const PREHEAT_SECONDS = Number(process.env.BENCH_PREHEAT_SECONDS ?? 10);

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

/** Runs the load in a process of its own; `onMeasuring` is called when its warm-up is over and the measured run starts. */
async function runLoad(
  kind: 'grpc' | 'http',
  target: string,
  seconds: number,
  onMeasuring: () => void,
  warmupSeconds = WARMUP_SECONDS,
): Promise<LoadResult> {
  const [command, args] = pinned(LOAD_CPU, [BENCH_MAIN, 'load', kind, target, String(seconds), String(INFLIGHT), String(warmupSeconds)]);
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  let measuring = false;
  child.stdout!.on('data', (d: Buffer) => {
    out += d;
    if (out.startsWith('measuring\n') && !measuring) {
      measuring = true;
      onMeasuring();
    }
  });
  await new Promise((r) => child.once('exit', r));
  return JSON.parse(out.slice(out.indexOf('\n') + 1)) as LoadResult;
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
}

/** One measured run: load against `target` while reading the CPU of `watched` processes. */
async function measure(kind: 'grpc' | 'http', target: string, watched: Record<string, number>, warmupSeconds?: number): Promise<Measured> {
  let before: Record<string, number> = {};
  let woken: Record<string, number> = {};
  const result = await runLoad(
    kind,
    target,
    SECONDS,
    () => {
      before = Object.fromEntries(Object.entries(watched).map(([k, pid]) => [k, cpuUs(pid)]));
      woken = Object.fromEntries(Object.entries(watched).map(([k, pid]) => [k, wakeups(pid)]));
    },
    warmupSeconds,
  );
  const perCall = (read: (pid: number) => number, from: Record<string, number>) =>
    Object.fromEntries(Object.entries(watched).map(([k, pid]) => [k, (read(pid) - from[k]!) / result.completed]));
  return { result, cpuUsPerCall: perCall(cpuUs, before), wakeupsPerCall: perCall(wakeups, woken) };
}

const children: ChildProcess[] = [];
process.on('exit', () => children.forEach((c) => c.kill('SIGKILL')));

export async function startProcess(args: string[], env: Record<string, string> = {}): Promise<number> {
  const [command, commandArgs] = pinned(SUBJECT_CPU, args);
  const child = spawn(command, commandArgs, {
    // Every server, bare or not, with the Node options Strata's services run with.
    env: { ...process.env, NODE_OPTIONS: SERVICE_NODE_OPTIONS, LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  children.push(child);
  return child.pid!;
}
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
  /** Each round's CPU per call of each watched process (for ratios taken within a round: `pairedRatio`). */
  rounds: Record<string, number>[];
}

/** Measures the variants for ROUNDS rounds (SCHEDULE) after one warm-up round of PREHEAT_SECONDS of load each; returns medians. */
export async function measureRounds(variants: Variant[]): Promise<Map<string, VariantResult>> {
  const runs = new Map<string, Measured[]>(variants.map((v) => [v.name, []]));
  const report = (label: string, v: Variant, m: Measured) =>
    process.stderr.write(
      `  ${label}: ${v.name} … ${fmt(m.result.achievedRate)} calls/s, CPU µs/call ${Object.entries(m.cpuUsPerCall)
        .map(([k, cpu]) => `${k} ${fmt(cpu)} (${fmt(m.wakeupsPerCall[k]!, 2)} wake-ups)`)
        .join(', ')}\n`,
    );
  for (let round = 0; round <= ROUNDS; round++) {
    const label = round === 0 ? 'warm-up' : `round ${round}/${ROUNDS}`;
    const warmup = round === 0 ? PREHEAT_SECONDS : undefined;
    const measured = SCHEDULE === 'together' ? await Promise.all(variants.map((v) => measure(v.kind, v.target, v.watched, warmup))) : [];
    for (const [i, v] of variants.entries()) {
      const m = measured[i] ?? (await measure(v.kind, v.target, v.watched, warmup));
      report(label, v, m);
      if (round > 0) runs.get(v.name)!.push(m);
    }
  }
  return new Map(
    [...runs].map(([name, ms]) => [
      name,
      {
        rate: median(ms.map((m) => m.result.achievedRate)),
        p50: median(ms.map((m) => m.result.latencyMs.p50)),
        p99: median(ms.map((m) => m.result.latencyMs.p99)),
        errors: ms.reduce((a, m) => a + m.result.failed, 0),
        cpu: Object.fromEntries(Object.keys(ms[0]!.cpuUsPerCall).map((k) => [k, median(ms.map((m) => m.cpuUsPerCall[k]!))])),
        spread: Object.fromEntries(
          Object.keys(ms[0]!.cpuUsPerCall).map((k) => {
            const xs = ms.map((m) => m.cpuUsPerCall[k]!);
            return [k, `${fmt(Math.min(...xs))}–${fmt(Math.max(...xs))}`];
          }),
        ),
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
