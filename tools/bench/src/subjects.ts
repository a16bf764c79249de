import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { setTimeout as delay } from 'node:timers/promises';
import { startConsole } from '@strata/console';
import { reservePortRegion, startEmbeddedPostgres } from '@strata/dev-kit';
import { serviceNodeOptions } from '@strata/service-registry';
import { BENCH_MAIN, startProcess, waitGrpc } from './rounds.js';

const REPO_ROOT = resolve(dirname(BENCH_MAIN), '..', '..', '..');
const here = BENCH_MAIN;
const TRACING_VARIANT = pathToFileURL(join(dirname(BENCH_MAIN), 'tracing-variant.js')).href;

/** Section 6: the pg instrumentation per query, as [sampled ratio, the parts tracing-variant.ts starts; '' = off]. */
export const PG_VARIANTS: Record<string, [string, string]> = {
  'tracing off': ['', ''],
  'the kit’s spans, one in ten sampled, no pg instrumentation': ['0.1', 'sdk,kit'],
  'the kit’s spans + the pg instrumentation, one in ten sampled': ['0.1', 'sdk,kit,pg'],
  'the kit’s spans, every request sampled, no pg instrumentation': ['1', 'sdk,kit'],
  'the kit’s spans + the pg instrumentation, every request sampled': ['1', 'sdk,kit,pg'],
};

/** Section 5: what each part of tracing costs, as [sampled ratio, the parts tracing-variant.ts starts]. */
export const TRACING_PARTS: Record<string, [string, string]> = {
  'SDK, context manager, propagator, exporter; no spans': ['0.1', 'sdk'],
  '+ the kit’s spans (gRPC server and client, HTTP edge)': ['0.1', 'sdk,kit'],
  '+ the kit’s spans + the pg instrumentation and its loader hook (what services run)': ['0.1', 'sdk,kit,pg'],
  '+ the stock grpc-js instrumentation alone': ['0.1', 'sdk,stock-grpc'],
  '+ the stock http instrumentation alone': ['0.1', 'sdk,stock-http'],
  'stock grpc-js + http + pg instrumentations (before issue 23)': ['0.1', 'sdk,stock-grpc,stock-http,stock-pg'],
  'stock grpc-js + http + pg instrumentations, every request sampled (before)': ['1', 'sdk,stock-grpc,stock-http,stock-pg'],
};

/**
 * Starts every subject of the bench, each in a process of its own, and waits until each answers: the server variants
 * (bare grpc-js, stock Nest, Strata), the two forwarding hops and their Strata backend, the real catalog and gateway,
 * the bare and stock-Nest edges, and a gateway → catalog pair tracing every request and one tracing one in ten; with
 * `withParts`, a pair more for each of section 5's variants (`TRACING_PARTS`); with `withPg`, an embedded PostgreSQL
 * and a service reading it for each of section 6's (`PG_VARIANTS`).
 */
export async function startSubjects(withParts: boolean, withPg: boolean) {
  // Ports from a region below the ephemeral range (reservePortRegion): a port found free with listen(0) lies inside it,
  // and once became the source port of some connection before its subject bound it (EADDRINUSE, 2026-12-07).
  const region = await reservePortRegion({ size: 100 });
  let nextPort = region.base;
  const freePort = async () => {
    if (nextPort >= region.base + 100) throw new Error('the bench needs more than the 100 ports of its region');
    return nextPort++;
  };
  // First, before the other subjects load the CPU: PGlite's start is slow on a busy machine.
  const database = withPg ? await startEmbeddedPostgres(await freePort()) : undefined;
  const ports = {
    bare: await freePort(),
    nest: await freePort(),
    strata: await freePort(),
    backendBare: await freePort(),
    backendStrata: await freePort(),
    hopStrata: await freePort(),
    hopBare: await freePort(),
  };
  const pids = {
    bare: await startProcess([here, 'server', 'bare', String(ports.bare)]),
    nest: await startProcess([here, 'server', 'nest', String(ports.nest)]),
    strata: await startProcess([here, 'server', 'strata', String(ports.strata)]),
    // A Strata backend per forwarding service: with a section's variants measured at the same time, a shared callee's
    // CPU could not be told apart.
    backendBare: await startProcess([here, 'server', 'strata', String(ports.backendBare)]),
    backendStrata: await startProcess([here, 'server', 'strata', String(ports.backendStrata)]),
    hopStrata: await startProcess([here, 'server', 'hop-strata', String(ports.hopStrata), String(ports.backendStrata)]),
    hopBare: await startProcess([here, 'server', 'hop-bare', String(ports.hopBare), String(ports.backendBare)]),
  };
  // The real catalog and gateway, and the two edges that do the gateway's work, each over a catalog of its own (a
  // section's variants are measured at the same time), and a catalog called directly.
  const startCatalog = async (env: Record<string, string> = {}) => {
    const started = { port: await freePort(), pid: 0 };
    started.pid = await startProcess([join(REPO_ROOT, 'apps/catalog/dist/main.js')], {
      ...env,
      GRPC_PORT: String(started.port),
      METRICS_PORT: String(await freePort()),
    });
    return started;
  };
  const catalog = await startCatalog();
  const gateway = { port: await freePort(), pid: 0 };
  gateway.pid = await startProcess([join(REPO_ROOT, 'apps/gateway/dist/main.js')], {
    GATEWAY_PORT: String(gateway.port),
    CATALOG_TARGET: `ipv4:127.0.0.1:${catalog.port}`,
  });
  const edge = async (variant: 'edge-bare' | 'edge-nest') => {
    const [port, behind] = [await freePort(), await startCatalog()];
    return {
      port,
      pid: await startProcess([here, 'server', variant, String(port), String(behind.port)]),
      catalog: behind.pid,
      catalogPort: behind.port,
    };
  };
  const plain = {
    catalog,
    gateway,
    edgeBare: await edge('edge-bare'),
    edgeNest: await edge('edge-nest'),
    directCatalog: await startCatalog(),
  };
  // Tracing: the same gateway → catalog pair exporting every trace, and one trace in ten, to a real OTLP receiver (the
  // local cluster's console, whose CPU is not counted: in a cluster the collector runs elsewhere).
  const collector = await startConsole({ source: () => ({ title: 'bench', services: [], replicas: [], events: [] }) });
  // `parts`: section 5's variants, started by the bench's own preload (tracing-variant.ts) in place of the kit's.
  const traced = async (sampleRatio: string, parts?: string) => {
    const env: Record<string, string> = {
      OTEL_EXPORTER_OTLP_ENDPOINT: collector.otlpEndpoint,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
      OTEL_TRACES_SAMPLER_ARG: sampleRatio,
      ...(parts ? { BENCH_TRACING_PARTS: parts, NODE_OPTIONS: serviceNodeOptions(TRACING_VARIANT) } : {}),
    };
    const tracedCatalog = await startCatalog(env);
    const tracedGateway = { port: await freePort(), pid: 0 };
    tracedGateway.pid = await startProcess([join(REPO_ROOT, 'apps/gateway/dist/main.js')], {
      ...env,
      GATEWAY_PORT: String(tracedGateway.port),
      CATALOG_TARGET: `ipv4:127.0.0.1:${tracedCatalog.port}`,
    });
    return { catalog: tracedCatalog, gateway: tracedGateway };
  };
  const tracedAll = await traced('1');
  const tracedTenth = await traced('0.1');
  const parts: Record<string, Awaited<ReturnType<typeof traced>>> = {};
  if (withParts) for (const [name, [ratio, list]] of Object.entries(TRACING_PARTS)) parts[name] = await traced(ratio, list);
  // Section 6: a Strata service reading PostgreSQL (embedded, PGlite) once per call, with and without the pg
  // instrumentation, at one in ten and at every request sampled.
  const pgSubjects: Record<string, { port: number; pid: number }> = {};
  if (database)
    for (const [name, [ratio, list]] of Object.entries(PG_VARIANTS)) {
      const port = await freePort();
      const env: Record<string, string> = { DATABASE_URL: database.url };
      if (list)
        Object.assign(env, {
          OTEL_EXPORTER_OTLP_ENDPOINT: collector.otlpEndpoint,
          OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
          OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
          OTEL_TRACES_SAMPLER_ARG: ratio,
          BENCH_TRACING_PARTS: list,
          NODE_OPTIONS: serviceNodeOptions(TRACING_VARIANT),
        });
      pgSubjects[name] = { port, pid: await startProcess([here, 'server', 'pg-query', String(port)], env) };
    }
  const pairs = [tracedAll, tracedTenth, ...Object.values(parts)];
  for (const port of [
    ...Object.values(ports),
    catalog.port,
    plain.directCatalog.port,
    plain.edgeBare.catalogPort,
    plain.edgeNest.catalogPort,
    ...pairs.map((pair) => pair.catalog.port),
    ...Object.values(pgSubjects).map((p) => p.port),
  ])
    await waitGrpc(port);
  for (const url of [
    `http://127.0.0.1:${gateway.port}/readyz`,
    ...pairs.map((pair) => `http://127.0.0.1:${pair.gateway.port}/readyz`),
    `http://127.0.0.1:${plain.edgeBare.port}/api/products/p-000001`,
    `http://127.0.0.1:${plain.edgeNest.port}/api/products/p-000001`,
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
  return { ports, pids, plain, tracedAll, tracedTenth, parts, pgSubjects, database, collector };
}
