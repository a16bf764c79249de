#!/usr/bin/env node
// `npm run bench` — a benchmark that reports; it asserts nothing. Every server and the load generator run in
// processes of their own; CPU per call comes from /proc/<pid>/stat (user + system) over each measured run.
import 'reflect-metadata';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { startConsole } from '@strata/console';
import { checkHealth } from '@strata/service-kit';
import { SERVICE_NODE_OPTIONS } from '@strata/service-registry';
import { freePort } from '@strata/dev-kit';
import { benchLoad, type LoadResult } from './bench-load.js';
import { startVariant } from './bench-servers.js';

const here = fileURLToPath(import.meta.url);
const REPO_ROOT = resolve(dirname(here), '..', '..', '..');
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 4);
const INFLIGHT = Number(process.env.BENCH_INFLIGHT ?? 64);
/** Load right before each measured run, not measured: every variant is measured hot (see warmThenMeasure). */
const WARMUP_SECONDS = Number(process.env.BENCH_WARMUP_SECONDS ?? 1);
const TICK_US = 1_000_000 / 100; // USER_HZ is 100 on Linux

function cpuTicks(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15 of the whole line)
}

/** Runs the load in a process of its own; `onMeasuring` is called when its warm-up is over and the measured run starts. */
async function runLoad(kind: 'grpc' | 'http', target: string, seconds: number, onMeasuring: () => void): Promise<LoadResult> {
  const child = spawn(process.execPath, [here, 'load', kind, target, String(seconds), String(INFLIGHT), String(WARMUP_SECONDS)], {
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

async function startProcess(args: string[], env: Record<string, string> = {}): Promise<number> {
  const child = spawn(process.execPath, args, {
    // Every server, bare or not, with the Node options Strata's services run with.
    env: { ...process.env, NODE_OPTIONS: SERVICE_NODE_OPTIONS, LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  children.push(child);
  return child.pid!;
}
async function waitGrpc(port: number): Promise<void> {
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
const fmt = (n: number, digits = 0) => (Number.isFinite(n) ? n.toFixed(digits) : '-');

/** Alternates the variants (A B C A B C …) for ROUNDS rounds after one warm-up round; returns medians. */
async function alternate(
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

async function orchestrate(): Promise<void> {
  console.log(
    `Strata bench — Node ${process.version} ${SERVICE_NODE_OPTIONS}, ${ROUNDS} alternating rounds of ${SECONDS} s, ${INFLIGHT} calls in flight, one channel\n`,
  );
  const ports = {
    bare: await freePort(),
    nest: await freePort(),
    strata: await freePort(),
    backend: await freePort(),
    hopStrata: await freePort(),
    hopBare: await freePort(),
  };
  const pids = {
    bare: await startProcess([here, 'server', 'bare', String(ports.bare)]),
    nest: await startProcess([here, 'server', 'nest', String(ports.nest)]),
    strata: await startProcess([here, 'server', 'strata', String(ports.strata)]),
    backend: await startProcess([here, 'server', 'strata', String(ports.backend)]),
    hopStrata: await startProcess([here, 'server', 'hop-strata', String(ports.hopStrata), String(ports.backend)]),
    hopBare: await startProcess([here, 'server', 'hop-bare', String(ports.hopBare), String(ports.backend)]),
  };
  const catalogPort = await freePort();
  const gatewayPort = await freePort();
  const edgeBarePort = await freePort();
  const catalogPid = await startProcess([join(REPO_ROOT, 'apps/catalog/dist/main.js')], {
    GRPC_PORT: String(catalogPort),
    METRICS_PORT: String(await freePort()),
  });
  const gatewayPid = await startProcess([join(REPO_ROOT, 'apps/gateway/dist/main.js')], {
    GATEWAY_PORT: String(gatewayPort),
    CATALOG_TARGET: `ipv4:127.0.0.1:${catalogPort}`,
  });
  const edgeBarePid = await startProcess([here, 'server', 'edge-bare', String(edgeBarePort), String(catalogPort)]);
  const edgeNestPort = await freePort();
  const edgeNestPid = await startProcess([here, 'server', 'edge-nest', String(edgeNestPort), String(catalogPort)]);
  // Tracing: the same gateway → catalog pair exporting every trace, and one trace in ten, to a real OTLP receiver (the
  // local cluster's console, whose CPU is not counted: in a cluster the collector runs elsewhere).
  const collector = await startConsole({ source: () => ({ title: 'bench', services: [], replicas: [], events: [] }) });
  const traced = async (sampleRatio: string) => {
    const env = {
      OTEL_EXPORTER_OTLP_ENDPOINT: collector.otlpEndpoint,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
      OTEL_TRACES_SAMPLER_ARG: sampleRatio,
    };
    const catalog = { port: await freePort(), pid: 0 };
    catalog.pid = await startProcess([join(REPO_ROOT, 'apps/catalog/dist/main.js')], {
      ...env,
      GRPC_PORT: String(catalog.port),
      METRICS_PORT: String(await freePort()),
    });
    const gateway = { port: await freePort(), pid: 0 };
    gateway.pid = await startProcess([join(REPO_ROOT, 'apps/gateway/dist/main.js')], {
      ...env,
      GATEWAY_PORT: String(gateway.port),
      CATALOG_TARGET: `ipv4:127.0.0.1:${catalog.port}`,
    });
    return { catalog, gateway };
  };
  const tracedAll = await traced('1');
  const tracedTenth = await traced('0.1');
  for (const port of [...Object.values(ports), catalogPort, tracedAll.catalog.port, tracedTenth.catalog.port]) await waitGrpc(port);
  for (const url of [
    `http://127.0.0.1:${gatewayPort}/readyz`,
    `http://127.0.0.1:${tracedAll.gateway.port}/readyz`,
    `http://127.0.0.1:${tracedTenth.gateway.port}/readyz`,
    `http://127.0.0.1:${edgeBarePort}/api/products/p-000001`,
    `http://127.0.0.1:${edgeNestPort}/api/products/p-000001`,
  ]) {
    for (
      let i = 0;
      i < 200 &&
      !(await fetch(url).then(
        (r) => r.ok,
        () => false,
      ));
      i++
    )
      await delay(50);
  }

  const sections = (process.env.BENCH_SECTIONS ?? '1,2,3,4').split(',');
  const none = new Map();
  /** A gRPC subject: GetProduct at `port`, the CPU of `watched` read. */
  const grpcAt = (name: string, port: number, watched: Record<string, number>) =>
    ({ name, kind: 'grpc', target: `127.0.0.1:${port}`, watched }) as const;
  /** An HTTP subject: GET /api/products/p-000042 at an edge's `port`, its CPU and the catalog's behind it read. */
  const productAt = (name: string, port: number, edge: number, catalog = catalogPid) =>
    ({ name, kind: 'http', target: `http://127.0.0.1:${port}/api/products/p-000042`, watched: { edge, catalog } }) as const;
  console.error('1/4 server plumbing: the same handler behind three servers');
  const servers = !sections.includes('1')
    ? none
    : await alternate([
        grpcAt('bare grpc-js', ports.bare, { server: pids.bare }),
        grpcAt('stock Nest Transport.GRPC', ports.nest, { server: pids.nest }),
        grpcAt('Strata startGrpcService', ports.strata, { server: pids.strata }),
      ]);
  console.error('2/4 one hop: a front service forwarding every call to a Strata backend');
  const hops = !sections.includes('2')
    ? none
    : await alternate([
        grpcAt('bare grpc-js server + client', ports.hopBare, { caller: pids.hopBare, callee: pids.backend }),
        grpcAt('Strata server + client', ports.hopStrata, { caller: pids.hopStrata, callee: pids.backend }),
      ]);
  console.error('3/4 GET /api/products/:id → catalog GetProduct: the gateway against a bare Fastify edge');
  const edge = !sections.includes('3')
    ? none
    : await alternate([
        grpcAt('catalog directly (gRPC)', catalogPort, { edge: gatewayPid, catalog: catalogPid }),
        productAt('bare edge: Fastify + the same validation + grpc-js (HTTP)', edgeBarePort, edgeBarePid),
        productAt('stock Nest on its Fastify adapter + the same validation + grpc-js (HTTP)', edgeNestPort, edgeNestPid),
        productAt('the gateway (HTTP)', gatewayPort, gatewayPid),
      ]);

  console.error('4/4 tracing: GET /api/products/:id through the gateway to catalog, tracing off, every request, one in ten');
  const tracing = !sections.includes('4')
    ? none
    : await alternate([
        productAt('tracing off (no OTLP endpoint)', gatewayPort, gatewayPid),
        productAt('tracing on, every request sampled', tracedAll.gateway.port, tracedAll.gateway.pid, tracedAll.catalog.pid),
        productAt('tracing on, one request in ten sampled', tracedTenth.gateway.port, tracedTenth.gateway.pid, tracedTenth.catalog.pid),
      ]);
  const spansReceived = collector.traces.list(1_000).length;
  await collector.close();

  const bareCpu = servers.get('bare grpc-js')?.cpu.server ?? NaN;
  console.log('### 1. Server plumbing (same handler)\n');
  console.log('| server | calls/s | p50 ms | p99 ms | server CPU µs/call (min–max of the rounds) | × bare |\n|---|---|---|---|---|---|');
  for (const [name, r] of servers)
    console.log(
      `| ${name} | ${fmt(r.rate)} | ${fmt(r.p50, 2)} | ${fmt(r.p99, 2)} | ${fmt(r.cpu.server!)} (${r.spread.server}) | ${fmt(r.cpu.server! / bareCpu, 2)} |`,
    );
  const bareCaller = hops.get('bare grpc-js server + client')?.cpu.caller ?? NaN;
  console.log('\n### 2. One hop (caller = the forwarding service; callee = the Strata backend)\n');
  console.log(
    '| forwarding with | calls/s | p50 ms | p99 ms | caller CPU µs/call (min–max) | × bare caller | callee CPU µs/call |\n|---|---|---|---|---|---|---|',
  );
  for (const [name, r] of hops)
    console.log(
      `| ${name} | ${fmt(r.rate)} | ${fmt(r.p50, 2)} | ${fmt(r.p99, 2)} | ${fmt(r.cpu.caller!)} (${r.spread.caller}) | ${fmt(r.cpu.caller! / bareCaller, 2)} | ${fmt(r.cpu.callee!)} |`,
    );
  const bareEdge = edge.get('bare edge: Fastify + the same validation + grpc-js (HTTP)')?.cpu.edge ?? NaN;
  console.log('\n### 3. The edge: GET /api/products/:id → catalog GetProduct\n');
  console.log(
    '| path | calls/s | p50 ms | p99 ms | edge CPU µs/request (min–max) | × bare edge | catalog CPU µs/call |\n|---|---|---|---|---|---|---|',
  );
  for (const [name, r] of edge) {
    const edgeCpu = name.startsWith('catalog directly') ? NaN : r.cpu.edge!;
    console.log(
      `| ${name} | ${fmt(r.rate)} | ${fmt(r.p50, 2)} | ${fmt(r.p99, 2)} | ${fmt(edgeCpu)}${name.startsWith('catalog directly') ? '' : ` (${r.spread.edge})`} | ${fmt(edgeCpu / bareEdge, 2)} | ${fmt(r.cpu.catalog!)} |`,
    );
  }
  console.log('\n### 4. Tracing: the same request with OpenTelemetry off and on (OTLP/HTTP export to a local receiver)\n');
  console.log(
    '| tracing | calls/s | p50 ms | p99 ms | gateway CPU µs/request | catalog CPU µs/call | both | × off |\n|---|---|---|---|---|---|---|---|',
  );
  const off = tracing.get('tracing off (no OTLP endpoint)');
  const offBoth = off ? off.cpu.edge! + off.cpu.catalog! : NaN;
  for (const [name, r] of tracing) {
    const both = r.cpu.edge! + r.cpu.catalog!;
    console.log(
      `| ${name} | ${fmt(r.rate)} | ${fmt(r.p50, 2)} | ${fmt(r.p99, 2)} | ${fmt(r.cpu.edge!)} | ${fmt(r.cpu.catalog!)} | ${fmt(both)} | ${fmt(both / offBoth, 2)} |`,
    );
  }
  if (tracing.size > 0) console.log(`\nTraces received by the OTLP receiver (the newest kept): ${spansReceived}.`);
  const ratio = (value: number, goal: number) => `${fmt(value, 2)} ${value <= goal ? '(met)' : '(not met)'}`;
  const strataRatio = (servers.get('Strata startGrpcService')?.cpu.server ?? NaN) / bareCpu;
  const hopRatio = (hops.get('Strata server + client')?.cpu.caller ?? NaN) / bareCaller;
  const edgeRatio = (edge.get('the gateway (HTTP)')?.cpu.edge ?? NaN) / bareEdge;
  const errors = [...servers.values(), ...hops.values(), ...edge.values(), ...tracing.values()].reduce((a, r) => a + r.errors, 0);
  console.log(
    `\nGoals: server CPU ≤ 1.10 × bare grpc-js → ${ratio(strataRatio, 1.1)}; caller CPU of a hop ≤ 1.10 × a bare grpc-js caller → ${ratio(hopRatio, 1.1)}; ` +
      `gateway CPU ≤ 1.20 × the bare edge → ${ratio(edgeRatio, 1.2)}. Errors: ${errors}.`,
  );
  process.exit(0);
}

const [mode, ...args] = process.argv.slice(2);
if (mode === 'server') {
  await startVariant(args[0]!, Number(args[1]), args[2] ? Number(args[2]) : undefined);
  console.log('ready');
  // For profiling (node --cpu-prof writes its profile on exit): BENCH_EXIT_AFTER_MS=8000.
  if (process.env.BENCH_EXIT_AFTER_MS) setTimeout(() => process.exit(0), Number(process.env.BENCH_EXIT_AFTER_MS));
} else if (mode === 'load') {
  const [kind, target, seconds, inflight, warmup] = args;
  const measuring = () => process.stdout.write('measuring\n');
  const result = await benchLoad(kind as 'grpc' | 'http', target!, Number(seconds), Number(inflight), Number(warmup ?? 0), measuring);
  console.log(JSON.stringify(result));
  process.exit(0);
} else {
  await orchestrate();
}
