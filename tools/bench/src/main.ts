#!/usr/bin/env node
// `npm run bench [-- --runs 3]` — a benchmark that reports; it asserts nothing. Every server and the load generator
// run in processes of their own; CPU per call comes from the scheduler's account of each subject's threads
// (/proc/<pid>/task/*/schedstat) over each measured stretch, bytes allocated per call from V8's --trace-gc-nvp lines.
// Each section's variants are offered the same rate in its measured rounds (BENCH_RATE_SHARE of the slowest one's
// flat-out rate in the warm-up). With --runs N, N whole runs one after the other, each with subjects of its own, and
// then each goal's ratio in every run with its spread. BENCH_SECTIONS (1,2,3,4,5,6,7), BENCH_ROUNDS (5), BENCH_SECONDS
// (4), BENCH_INFLIGHT (64), BENCH_WARMUP_SECONDS (1), BENCH_PREHEAT_SECONDS (10), BENCH_RATE_SHARE (0.6; 0 = flat out),
// BENCH_PIN (1) and BENCH_SCHEDULE (alternate | together) shape a run (docs/performance.md, "Method").
import 'reflect-metadata';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseCommandLine } from '@strata/preflight';
import { SERVICE_NODE_OPTIONS } from '@strata/service-registry';
import { benchLoadSession } from './bench-load.js';
import { startVariant } from './bench-servers.js';
import {
  BENCH_MAIN,
  fmt,
  INFLIGHT,
  measureRounds,
  PACED_MAX_INFLIGHT,
  pairedRatio,
  PINNED,
  pinOrchestrator,
  RATE_SHARE,
  ROUNDS,
  runOnSubjectCpu,
  SCHEDULE,
  SECONDS,
} from './rounds.js';
import { heapProfileReport } from './heap-report.js';
import { traceFunctions } from './trace-functions.js';
import { startSubjects } from './subjects.js';

/** The ratios a run reports, against their goals (undefined = reported, no goal). */
const GOALS: Record<string, number | undefined> = {
  'server CPU per call × bare grpc-js': 1.1,
  'caller CPU of a hop × a bare grpc-js forwarder': 1.1,
  'gateway CPU per request × a bare Fastify edge': 1.2,
  'tracing on, every request sampled (gateway + catalog CPU × off)': 1.4,
  'tracing on, one request in ten sampled (× off)': 1.15,
};
type Ratios = Record<keyof typeof GOALS, number>;

/** Bytes as KB with one decimal. */
const kb = (bytes: number) => fmt(bytes / 1024, 1);

/** One whole run: subjects started, every section measured, the tables printed; its ratios. */
async function benchRun(): Promise<Ratios> {
  pinOrchestrator();
  console.log(
    `Strata bench — Node ${process.version} ${SERVICE_NODE_OPTIONS}, ${ROUNDS} rounds of ${SECONDS} s (${SCHEDULE === 'together' ? "a section's variants measured at the same time" : 'variants alternating'}), ${RATE_SHARE > 0 ? `each section's variants offered ${RATE_SHARE} × the slowest one's flat-out rate (at most ${PACED_MAX_INFLIGHT} in flight)` : `${INFLIGHT} calls in flight per variant (flat out)`}, one channel or keep-alive pool per variant; ${PINNED ? 'load on CPU 0, subjects on CPU 1' : 'not pinned'}\n`,
  );
  const sections = (process.env.BENCH_SECTIONS ?? '1,2,3,4,5,6,7').split(',');
  const { ports, pids, plain, tracedAll, tracedTenth, parts, pgSubjects, database, collector } = await startSubjects(
    sections.includes('5'),
    sections.includes('6'),
  );

  const none = new Map();
  /** A gRPC subject: GetProduct at `port`, the CPU of `watched` read. */
  const grpcAt = (name: string, port: number, watched: Record<string, number>) =>
    ({ name, kind: 'grpc', target: `127.0.0.1:${port}`, watched }) as const;
  /** An HTTP subject: GET /api/products/p-000042 at an edge's `port`, its CPU and the catalog's behind it read. */
  const productAt = (name: string, port: number, edge: number, catalog: number) =>
    ({ name, kind: 'http', target: `http://127.0.0.1:${port}/api/products/p-000042`, watched: { edge, catalog } }) as const;
  console.error('1/7 server plumbing: the same handler behind three servers');
  const servers = !sections.includes('1')
    ? none
    : await measureRounds([
        grpcAt('bare grpc-js', ports.bare, { server: pids.bare }),
        grpcAt('stock Nest Transport.GRPC', ports.nest, { server: pids.nest }),
        grpcAt('Strata startGrpcService', ports.strata, { server: pids.strata }),
      ]);
  console.error('2/7 one hop: a front service forwarding every call to a Strata backend');
  const hops = !sections.includes('2')
    ? none
    : await measureRounds([
        grpcAt('bare grpc-js server + client', ports.hopBare, { caller: pids.hopBare, callee: pids.backendBare }),
        grpcAt('Strata server + client', ports.hopStrata, { caller: pids.hopStrata, callee: pids.backendStrata }),
      ]);
  console.error('3/7 GET /api/products/:id → catalog GetProduct: the gateway against a bare Fastify edge');
  const edge = !sections.includes('3')
    ? none
    : await measureRounds([
        grpcAt('catalog directly (gRPC)', plain.directCatalog.port, { catalog: plain.directCatalog.pid }),
        productAt(
          'bare edge: Fastify + the same validation + grpc-js (HTTP)',
          plain.edgeBare.port,
          plain.edgeBare.pid,
          plain.edgeBare.catalog,
        ),
        productAt(
          'stock Nest on its Fastify adapter + the same validation + grpc-js (HTTP)',
          plain.edgeNest.port,
          plain.edgeNest.pid,
          plain.edgeNest.catalog,
        ),
        productAt('the gateway (HTTP)', plain.gateway.port, plain.gateway.pid, plain.catalog.pid),
      ]);

  console.error('4/7 tracing: GET /api/products/:id through the gateway to catalog, tracing off, every request, one in ten');
  const tracing = !sections.includes('4')
    ? none
    : await measureRounds([
        productAt('tracing off (no OTLP endpoint)', plain.gateway.port, plain.gateway.pid, plain.catalog.pid),
        productAt('tracing on, every request sampled', tracedAll.gateway.port, tracedAll.gateway.pid, tracedAll.catalog.pid),
        productAt('tracing on, one request in ten sampled', tracedTenth.gateway.port, tracedTenth.gateway.pid, tracedTenth.catalog.pid),
      ]);
  console.error('5/7 what each part of tracing costs, on the same path (one request in ten sampled but where it says)');
  const tracingParts = !sections.includes('5')
    ? none
    : await measureRounds([
        productAt('tracing off (no OTLP endpoint)', plain.gateway.port, plain.gateway.pid, plain.catalog.pid),
        ...Object.entries(parts).map(([name, pair]) => productAt(name, pair.gateway.port, pair.gateway.pid, pair.catalog.pid)),
      ]);
  console.error('6/7 the pg instrumentation: a Strata service reading PostgreSQL once per call');
  const pgQueries = !sections.includes('6')
    ? none
    : await measureRounds(Object.entries(pgSubjects).map(([name, subject]) => grpcAt(name, subject.port, { server: subject.pid })));
  console.error("7/7 the kit's trace functions, timed in one process");
  const functions = sections.includes('7') ? await runOnSubjectCpu(['trace-functions']) : '';
  database?.stop();
  const spansReceived = collector.traces.list(1_000).length;
  await collector.close();

  // Every "×" below is a ratio taken within each round, then the median over the rounds (pairedRatio).
  console.log('### 1. Server plumbing (same handler)\n');
  console.log(
    '| server | calls/s | p50 ms | p99 ms | server CPU µs/call (min–max of the rounds) | × bare | server KB allocated/call |\n|---|---|---|---|---|---|---|',
  );
  for (const [name, r] of servers)
    console.log(
      `| ${name} | ${fmt(r.rate)} | ${fmt(r.p50, 2)} | ${fmt(r.p99, 2)} | ${fmt(r.cpu.server!)} (${r.spread.server}) | ${fmt(pairedRatio(servers, name, 'bare grpc-js', 'server'), 2)} | ${kb(r.bytes.server!)} |`,
    );
  console.log('\n### 2. One hop (caller = the forwarding service; callee = the Strata backend)\n');
  console.log(
    '| forwarding with | calls/s | p50 ms | p99 ms | caller CPU µs/call (min–max) | × bare caller | callee CPU µs/call | caller KB allocated/call |\n|---|---|---|---|---|---|---|---|',
  );
  for (const [name, r] of hops)
    console.log(
      `| ${name} | ${fmt(r.rate)} | ${fmt(r.p50, 2)} | ${fmt(r.p99, 2)} | ${fmt(r.cpu.caller!)} (${r.spread.caller}) | ${fmt(pairedRatio(hops, name, 'bare grpc-js server + client', 'caller'), 2)} | ${fmt(r.cpu.callee!)} | ${kb(r.bytes.caller!)} |`,
    );
  const BARE_EDGE = 'bare edge: Fastify + the same validation + grpc-js (HTTP)';
  console.log('\n### 3. The edge: GET /api/products/:id → catalog GetProduct\n');
  console.log(
    '| path | calls/s | p50 ms | p99 ms | edge CPU µs/request (min–max) | × bare edge | catalog CPU µs/call | edge KB allocated/request |\n|---|---|---|---|---|---|---|---|',
  );
  for (const [name, r] of edge) {
    const direct = name.startsWith('catalog directly');
    console.log(
      `| ${name} | ${fmt(r.rate)} | ${fmt(r.p50, 2)} | ${fmt(r.p99, 2)} | ${direct ? '-' : `${fmt(r.cpu.edge!)} (${r.spread.edge})`} | ${direct ? '-' : fmt(pairedRatio(edge, name, BARE_EDGE, 'edge'), 2)} | ${fmt(r.cpu.catalog!)} | ${direct ? '-' : kb(r.bytes.edge!)} |`,
    );
  }
  console.log('\n### 4. Tracing: the same request with OpenTelemetry off and on (OTLP/HTTP export to a local receiver)\n');
  console.log(
    '| tracing | calls/s | p50 ms | p99 ms | gateway CPU µs/request | catalog CPU µs/call | both | × off | KB allocated/request (gateway + catalog) |\n|---|---|---|---|---|---|---|---|---|',
  );
  const OFF = 'tracing off (no OTLP endpoint)';
  for (const [name, r] of tracing) {
    const both = r.cpu.edge! + r.cpu.catalog!;
    console.log(
      `| ${name} | ${fmt(r.rate)} | ${fmt(r.p50, 2)} | ${fmt(r.p99, 2)} | ${fmt(r.cpu.edge!)} | ${fmt(r.cpu.catalog!)} | ${fmt(both)} | ${fmt(pairedRatio(tracing, name, OFF), 2)} | ${kb(r.bytes.edge! + r.bytes.catalog!)} |`,
    );
  }
  if (tracing.size > 0) console.log(`\nTraces received by the OTLP receiver (the newest kept): ${spansReceived}.`);
  if (tracingParts.size > 0) {
    console.log('\n### 5. What each part of tracing costs (one request in ten sampled but where it says)\n');
    console.log(
      '| tracing with | calls/s | p99 ms | gateway CPU µs/request (min–max) | catalog CPU µs/call (min–max) | both | × off |\n|---|---|---|---|---|---|---|',
    );
    for (const [name, r] of tracingParts) {
      const both = r.cpu.edge! + r.cpu.catalog!;
      console.log(
        `| ${name} | ${fmt(r.rate)} | ${fmt(r.p99, 2)} | ${fmt(r.cpu.edge!)} (${r.spread.edge}) | ${fmt(r.cpu.catalog!)} (${r.spread.catalog}) | ${fmt(both)} | ${fmt(pairedRatio(tracingParts, name, OFF), 2)} |`,
      );
    }
  }
  if (pgQueries.size > 0) {
    console.log('\n### 6. The pg instrumentation: GetProduct answered after one PostgreSQL query (embedded PGlite)\n');
    console.log('| tracing | calls/s | p99 ms | service CPU µs/call (min–max) | × off |\n|---|---|---|---|---|');
    for (const [name, r] of pgQueries)
      console.log(
        `| ${name} | ${fmt(r.rate)} | ${fmt(r.p99, 2)} | ${fmt(r.cpu.server!)} (${r.spread.server}) | ${fmt(pairedRatio(pgQueries, name, 'tracing off'), 2)} |`,
      );
  }
  if (functions) {
    console.log("\n### 7. The kit's trace functions, timed in one process (SDK started, an exporter that drops every batch)\n");
    console.log(functions.trimEnd());
  }
  const ratios: Ratios = {
    'server CPU per call × bare grpc-js': pairedRatio(servers, 'Strata startGrpcService', 'bare grpc-js', 'server'),
    'caller CPU of a hop × a bare grpc-js forwarder': pairedRatio(hops, 'Strata server + client', 'bare grpc-js server + client', 'caller'),
    'gateway CPU per request × a bare Fastify edge': pairedRatio(edge, 'the gateway (HTTP)', BARE_EDGE, 'edge'),
    'tracing on, every request sampled (gateway + catalog CPU × off)': pairedRatio(tracing, 'tracing on, every request sampled', OFF),
    'tracing on, one request in ten sampled (× off)': pairedRatio(tracing, 'tracing on, one request in ten sampled', OFF),
  };
  const errors = [
    ...servers.values(),
    ...hops.values(),
    ...edge.values(),
    ...tracing.values(),
    ...tracingParts.values(),
    ...pgQueries.values(),
  ].reduce((a, r) => a + r.errors, 0);
  console.log(
    `\nGoals: ${Object.entries(ratios)
      .map(([name, value]) => `${name} ≤ ${GOALS[name]} → ${fmt(value, 3)} ${value <= GOALS[name]! ? '(met)' : '(not met)'}`)
      .join('; ')}. Errors: ${errors}.`,
  );
  return ratios;
}

/** `--runs N`: N whole runs one after the other, each a process of its own; then every goal's ratio in each run. */
async function consecutiveRuns(runs: number): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'strata-bench-'));
  const all: Ratios[] = [];
  for (let run = 1; run <= runs; run++) {
    console.error(`run ${run}/${runs}`);
    console.log(`\n## Run ${run} of ${runs}\n`);
    const file = join(dir, `run-${run}.json`);
    const child = spawn(process.execPath, [BENCH_MAIN, 'run', file], { stdio: 'inherit' });
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    if (code !== 0) throw new Error(`bench run ${run} exited with ${code}`);
    all.push(JSON.parse(readFileSync(file, 'utf8')) as Ratios);
  }
  console.log(`\n## The goals in ${runs} consecutive runs\n`);
  console.log(`| ratio | goal | ${all.map((_, i) => `run ${i + 1}`).join(' | ')} | spread (max − min) | held in every run |`);
  console.log(`|---|---|${all.map(() => '---|').join('')}---|---|`);
  for (const name of Object.keys(GOALS)) {
    const values = all.map((r) => r[name]!);
    const finite = values.filter(Number.isFinite);
    const spread = finite.length > 1 ? Math.max(...finite) - Math.min(...finite) : NaN;
    const held = finite.length === values.length && values.every((v) => v <= GOALS[name]!);
    console.log(
      `| ${name} | ≤ ${GOALS[name]} | ${values.map((v) => fmt(v, 3)).join(' | ')} | ${fmt(spread, 2)} | ${held ? 'yes' : 'no'} |`,
    );
  }
}

const [mode, ...args] = process.argv.slice(2);
if (mode === 'server') {
  await startVariant(args[0]!, Number(args[1]), args[2] ? Number(args[2]) : undefined);
  console.log('ready');
  // For profiling (node --cpu-prof writes its profile on exit): BENCH_EXIT_AFTER_MS=8000.
  if (process.env.BENCH_EXIT_AFTER_MS) setTimeout(() => process.exit(0), Number(process.env.BENCH_EXIT_AFTER_MS));
} else if (mode === 'load') {
  // The load on one variant for a section (rounds.ts LoadProcess): a line "<seconds> <warm-up seconds> [<rate> <max in
  // flight>]" on standard input runs one stretch (a closed loop, or an open loop at that rate); "measuring" is printed
  // when its warm-up is over, then its result as one line of JSON.
  const [kind, target, inflight] = args;
  const session = benchLoadSession(kind as 'grpc' | 'http', target!, Number(inflight));
  for await (const line of createInterface({ input: process.stdin })) {
    const [durationSec, warmupSec, rate, maxInFlight] = line.split(' ').map(Number);
    const measuring = () => process.stdout.write('measuring\n');
    const paced = Number.isFinite(rate) ? { rate, maxInFlight } : {};
    const result = await session.run({ durationSec: durationSec!, warmupSec, measuring, ...paced });
    process.stdout.write(`${JSON.stringify(result)}\n`);
  }
  await session.close();
  process.exit(0);
} else if (mode === 'machine') {
  // How steady this machine's speed is: the same piece of work timed once a second (docs/performance.md, "Why the ratios
  // move"); run it under `taskset -c N` on each core, alone and at once.
  const work = () => {
    const objects = new Array<{ i: number; s: string }>(1000);
    let sum = 0;
    for (let i = 0; i < 200_000; i++) {
      objects[i % 1000] = { i, s: `v${i & 255}` };
      sum += objects[(i * 7) % 1000]?.i ?? 0;
    }
    return sum;
  };
  for (let second = 0; second < 12; second++) {
    const cpu = process.cpuUsage();
    let units = 0;
    for (const started = Date.now(); Date.now() - started < 1000; units++) work();
    const used = process.cpuUsage(cpu);
    console.log(`${((used.user + used.system) / units / 1000).toFixed(2)} ms of CPU per unit of work`);
  }
  process.exit(0);
} else if (mode === 'heap-profile') {
  // A sampled heap profile of a subject (heap-sampling.ts) by package and function, per request (heap-report.ts).
  console.log(heapProfileReport(args[0]!, Number(args[1])));
  process.exit(0);
} else if (mode === 'trace-functions') {
  traceFunctions();
  process.exit(0);
} else if (mode === 'run') {
  // One of --runs' runs: its tables on stdout, its ratios in the file it was given.
  writeFileSync(args[0]!, JSON.stringify(await benchRun()));
  process.exit(0);
} else {
  const { values } = parseCommandLine(import.meta.url, {
    options: { runs: { type: 'string', default: '1', description: 'whole runs, one after the other, each with subjects of its own' } },
  });
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1) {
    console.error(`error: --runs must be a whole number from 1, not ${values.runs}`);
    process.exit(2);
  }
  if (runs === 1) await benchRun();
  else await consecutiveRuns(runs);
  process.exit(0);
}
