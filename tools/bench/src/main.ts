#!/usr/bin/env node
// `npm run bench` — a benchmark that reports; it asserts nothing. Every server and the load generator run in
// processes of their own; CPU per call comes from /proc/<pid>/stat (user + system) over each measured run.
import 'reflect-metadata';
import { SERVICE_NODE_OPTIONS } from '@strata/service-registry';
import { benchLoad } from './bench-load.js';
import { startVariant } from './bench-servers.js';
import { alternate, fmt, INFLIGHT, ROUNDS, SECONDS } from './rounds.js';
import { startSubjects } from './subjects.js';

async function orchestrate(): Promise<void> {
  console.log(
    `Strata bench — Node ${process.version} ${SERVICE_NODE_OPTIONS}, ${ROUNDS} alternating rounds of ${SECONDS} s, ${INFLIGHT} calls in flight, one channel\n`,
  );
  const { ports, pids, plain, tracedAll, tracedTenth, collector } = await startSubjects();

  const sections = (process.env.BENCH_SECTIONS ?? '1,2,3,4').split(',');
  const none = new Map();
  /** A gRPC subject: GetProduct at `port`, the CPU of `watched` read. */
  const grpcAt = (name: string, port: number, watched: Record<string, number>) =>
    ({ name, kind: 'grpc', target: `127.0.0.1:${port}`, watched }) as const;
  /** An HTTP subject: GET /api/products/p-000042 at an edge's `port`, its CPU and the catalog's behind it read. */
  const productAt = (name: string, port: number, edge: number, catalog = plain.catalog.pid) =>
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
        grpcAt('catalog directly (gRPC)', plain.catalog.port, { edge: plain.gateway.pid, catalog: plain.catalog.pid }),
        productAt('bare edge: Fastify + the same validation + grpc-js (HTTP)', plain.edgeBare.port, plain.edgeBare.pid),
        productAt('stock Nest on its Fastify adapter + the same validation + grpc-js (HTTP)', plain.edgeNest.port, plain.edgeNest.pid),
        productAt('the gateway (HTTP)', plain.gateway.port, plain.gateway.pid),
      ]);

  console.error('4/4 tracing: GET /api/products/:id through the gateway to catalog, tracing off, every request, one in ten');
  const tracing = !sections.includes('4')
    ? none
    : await alternate([
        productAt('tracing off (no OTLP endpoint)', plain.gateway.port, plain.gateway.pid),
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
