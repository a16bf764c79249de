#!/usr/bin/env node
import { exitOnMissingPrerequisite, MissingPrerequisite, requireFreePort } from '@strata/preflight';
import { CHANGE_LOOP } from './change-loop.js';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { hpaTable } from '@strata/autoscaler';
import { formatEvents, formatRollouts, formatServicesTable, formatStatusTable } from './status-table.js';
import { initialReplicas, portsOf, readClusterState, startLocalCluster } from './local-cluster.js';
import { ReplicasNotReady } from './supervisor.js';

const USAGE = `usage: strata-local <up [--watch] [--no-console] [--no-autoscale] [--overlay DIR]|status|plan>
  up      start every service with the replicas of k8s/overlays/local (or --overlay DIR, e.g.
          k8s/overlays/local-autoscaling: autoscalers that react within a minute), then follow edits of its replicas:
          (save the file: replicas are started or drained to match); Ctrl-C stops them all. Also serves the live
          page (layers, replicas, rates, traces) on CONSOLE_PORT unless --no-console or STRATA_CONSOLE=off.
          The overlay's HorizontalPodAutoscalers act as the Kubernetes controller would (every
          STRATA_HPA_SYNC_SECONDS, default 15; the declared replicas are each one's floor) unless --no-autoscale
          --watch: replicas run immutable revisions of their builds, and a saved change of a service, a library it
          uses or a .proto is compiled and rolled out, one replica at a time, as a Deployment rolls out an image
  status  desired and actual replicas per service, every replica, the autoscalers (as kubectl get hpa), and the
          last reconcile actions
  plan    print what 'up' would start, without starting anything
env: GATEWAY_PORT (8080), LOCAL_BASE_PORT (21000), DATABASE_URL (default: embedded PGlite in .strata/pgdata),
     LOG_LEVEL (info), CONSOLE_PORT (8090), OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG (which traces to keep;
     default: every request), STRATA_STATE_DIR (.strata: state, logs and the embedded database)`;

exitOnMissingPrerequisite();

const command = process.argv[2] ?? 'up';
const consoleWanted = !process.argv.includes('--no-console') && (process.env.STRATA_CONSOLE ?? 'on') !== 'off';
const watchSources = process.argv.includes('--watch');
const autoscale = !process.argv.includes('--no-autoscale');
const syncSeconds = Number(process.env.STRATA_HPA_SYNC_SECONDS ?? 15);
if (!(syncSeconds >= 1 && syncSeconds <= 300))
  throw new MissingPrerequisite(`STRATA_HPA_SYNC_SECONDS must be 1 to 300 seconds, got ${process.env.STRATA_HPA_SYNC_SECONDS}`);
/** Sampling passes through to every replica when the user sets it (the OpenTelemetry variables). */
const sampling = Object.fromEntries(
  ['OTEL_TRACES_SAMPLER', 'OTEL_TRACES_SAMPLER_ARG'].flatMap((k) => (process.env[k] ? [[k, process.env[k]!]] : [])),
);
const overlayAt = process.argv.indexOf('--overlay');
const overlayDir = overlayAt > 0 ? resolve(process.argv[overlayAt + 1] ?? '') : undefined;
if (overlayDir && !existsSync(join(overlayDir, 'kustomization.yaml')))
  throw new MissingPrerequisite(
    `--overlay ${process.argv[overlayAt + 1] ?? ''}: no kustomization.yaml there (try k8s/overlays/local-autoscaling)`,
  );
const options = {
  overlayDir,
  gatewayPort: Number(process.env.GATEWAY_PORT ?? 8080),
  basePort: Number(process.env.LOCAL_BASE_PORT ?? 21_000),
  databaseUrl: process.env.DATABASE_URL || undefined,
  stateDir: process.env.STRATA_STATE_DIR || undefined,
  extraEnv: { LOG_LEVEL: process.env.LOG_LEVEL ?? 'info', SHUTDOWN_DELAY_MS: '200', DRAIN_TIMEOUT_MS: '5000', ...sampling },
};
const time = () => new Date().toISOString().slice(11, 19);

if (command === 'plan') {
  for (const p of initialReplicas(options)) console.log(`${p.id.padEnd(20)} ${p.layer.padEnd(10)} ${p.address}`);
} else if (command === 'status') {
  const state = readClusterState();
  if (!state) {
    console.log('no local cluster is running from this checkout (start one with `npm start`)');
    process.exitCode = 1;
  } else {
    console.log(`local cluster pid ${state.pid}, up since ${state.startedAt}; gateway ${state.gatewayUrl}; database ${state.databaseUrl}`);
    if (state.consoleUrl) console.log(`live page: ${state.consoleUrl}`);
    console.log(`desired replicas: ${state.overlay}/kustomization.yaml (edit and save it to scale)\n`);
    console.log(`${formatServicesTable(state.services)}\n`);
    const rollouts = formatRollouts(state.services);
    if (rollouts) console.log(`${rollouts}\n`);
    console.log(`${formatStatusTable(state.replicas)}\n`);
    if (state.autoscalers?.length) {
      console.log(`${hpaTable(state.autoscalers)}\n`);
      for (const a of state.autoscalers) {
        const last = a.lastScale ?? a.lastSync;
        if (last) console.log(`${a.name}: ${a.lastScale ? 'last scaled' : last.reason} at ${last.at.slice(11, 19)}: ${last.message}`);
      }
      console.log('');
    }
    console.log(formatEvents(state.events));
    // The change loop's last word in full: a failed build's compiler messages.
    const last = state.events.filter((e) => e.service === CHANGE_LOOP).at(-1);
    if (last?.message.includes('\n')) console.log(`\nlast ${CHANGE_LOOP} event (${last.at.slice(11, 19)}):\n${last.message}`);
  }
} else if (command === 'up') {
  const consolePort = Number(process.env.CONSOLE_PORT ?? 8090);
  await preflight(consolePort);
  console.log(`${time()} starting the local cluster from ${overlayDir ?? 'k8s/overlays/local'} …`);
  const cluster = await startLocalCluster({
    ...options,
    watchSources,
    autoscaling: autoscale ? { syncPeriodMs: syncSeconds * 1000 } : false,
    console: consoleWanted ? { port: consolePort } : undefined,
  }).catch((error: unknown) => {
    // A replica that did not start: the message names it and its log (no stack trace to read past). Anything else
    // is a bug, and keeps its stack trace.
    throw error instanceof ReplicasNotReady ? new MissingPrerequisite(error.message) : error;
  });
  cluster.supervisor.on('event', (line: string) => console.log(`${time()} ${line}`));
  console.log(`\n${formatServicesTable(cluster.supervisor.services())}\n\n${formatStatusTable(cluster.supervisor.status())}\n`);
  console.log(`Strata is up: ${cluster.gatewayUrl}  (try: curl ${cluster.gatewayUrl}/api/products/p-000042)`);
  if (cluster.console) console.log(`Live page: ${cluster.console.url}  (layers, replicas, rates, latency, CPU, recent traces)`);
  console.log('Scale: edit replicas: in k8s/overlays/local/kustomization.yaml and save   Status: npm run status');
  if (cluster.autoscaling)
    console.log(
      `Autoscale: each layer's HPA (k8s/base/<service>) adds replicas above its declared count under CPU load, synced every ${syncSeconds} s`,
    );
  if (watchSources) console.log('Change: save a file under apps/, libs/ or proto/: it compiles and rolls out, one replica at a time');
  else console.log('Change and roll out on save: npm start -- --watch');
  console.log('Logs: .strata/logs/<replica>.log   Stop: Ctrl-C\n');
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${time()} ${signal}: stopping every replica (edge first) …`);
    cluster.stop().then(
      () => {
        console.log(`${time()} stopped; no process left behind`);
        process.exit(0);
      },
      (error: unknown) => {
        console.error(error);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
} else {
  console.error(USAGE);
  process.exitCode = 2;
}

/**
 * What `up` needs before it starts anything: no cluster already running from this checkout, and every port it will
 * listen on free, each named with the variable that moves it.
 */
async function preflight(consolePort: number): Promise<void> {
  const running = readClusterState();
  if (running)
    throw new MissingPrerequisite(
      `a local cluster is already running from this checkout (pid ${running.pid}, since ${running.startedAt}): \`npm run status\`, or stop it with Ctrl-C where it runs`,
    );
  await requireFreePort(options.gatewayPort, 'the gateway listens there: set GATEWAY_PORT to another port');
  if (consoleWanted)
    await requireFreePort(consolePort, 'the live page listens there: set CONSOLE_PORT to another port (or STRATA_CONSOLE=off)');
  for (const replica of initialReplicas(options))
    for (const port of portsOf(replica))
      await requireFreePort(
        port,
        `${replica.id} listens there: set LOCAL_BASE_PORT to move every replica's port (they start at ${options.basePort})`,
      );
}
