import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
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
/** Load right before each measured run, not measured: every variant is measured hot (see warmThenMeasure). */
const WARMUP_SECONDS = Number(process.env.BENCH_WARMUP_SECONDS ?? 1);
const TICK_US = 1_000_000 / 100; // USER_HZ is 100 on Linux

function cpuTicks(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15 of the whole line)
}

/** Runs the load in a process of its own; `onMeasuring` is called when its warm-up is over and the measured run starts. */
async function runLoad(kind: 'grpc' | 'http', target: string, seconds: number, onMeasuring: () => void): Promise<LoadResult> {
  const child = spawn(process.execPath, [BENCH_MAIN, 'load', kind, target, String(seconds), String(INFLIGHT), String(WARMUP_SECONDS)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
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

interface Measured {
  result: LoadResult;
  cpuUsPerCall: Record<string, number>;
}

/** One measured run: load against `target` while reading the CPU of `watched` processes. */
async function measure(kind: 'grpc' | 'http', target: string, watched: Record<string, number>): Promise<Measured> {
  let before: Record<string, number> = {};
  const result = await runLoad(kind, target, SECONDS, () => {
    before = Object.fromEntries(Object.entries(watched).map(([k, pid]) => [k, cpuTicks(pid)]));
  });
  const cpuUsPerCall = Object.fromEntries(
    Object.entries(watched).map(([k, pid]) => [k, ((cpuTicks(pid) - before[k]!) * TICK_US) / result.completed]),
  );
  return { result, cpuUsPerCall };
}

const children: ChildProcess[] = [];
process.on('exit', () => children.forEach((c) => c.kill('SIGKILL')));

export async function startProcess(args: string[], env: Record<string, string> = {}): Promise<number> {
  const child = spawn(process.execPath, args, {
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

/** Alternates the variants (A B C A B C …) for ROUNDS rounds after one warm-up round; returns medians. */
export async function alternate(
  variants: { name: string; kind: 'grpc' | 'http'; target: string; watched: Record<string, number> }[],
): Promise<
  Map<string, { rate: number; p50: number; p99: number; errors: number; cpu: Record<string, number>; spread: Record<string, string> }>
> {
  const runs = new Map<string, Measured[]>(variants.map((v) => [v.name, []]));
  for (let round = 0; round <= ROUNDS; round++) {
    for (const v of variants) {
      process.stderr.write(`  ${round === 0 ? 'warm-up' : `round ${round}/${ROUNDS}`}: ${v.name} … `);
      const m = await measure(v.kind, v.target, v.watched);
      process.stderr.write(
        `${fmt(m.result.achievedRate)} calls/s, CPU µs/call ${Object.entries(m.cpuUsPerCall)
          .map(([k, v]) => `${k} ${fmt(v)}`)
          .join(', ')}\n`,
      );
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
        /** The spread of the rounds: min and max CPU per call of each watched process. */
        spread: Object.fromEntries(
          Object.keys(ms[0]!.cpuUsPerCall).map((k) => {
            const xs = ms.map((m) => m.cpuUsPerCall[k]!);
            return [k, `${fmt(Math.min(...xs))}–${fmt(Math.max(...xs))}`];
          }),
        ),
      },
    ]),
  );
}
