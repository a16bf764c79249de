#!/usr/bin/env node
// npm run k8s:docker -- up|apply|status|down|logs: an overlay of k8s/, rendered by kustomize, run in Docker as a node
// would run it. `up` runs the node (the control loop) in the foreground until Ctrl-C, or in the background with
// --detach; the other commands talk to it through its state folder (.strata/k8s-docker/<name>).
//
// usage: npm run k8s:docker -- <command> [options]
//   up      [--overlay minikube] [--tag dev] [--image-map IMAGE=LOCAL ...] [--detach]   render the overlay and run it
//   apply   [--overlay minikube] [--tag dev]     render again and reconcile the running node to it (kubectl apply)
//   status                                       pods, deployments, statefulsets, services, events (kubectl get)
//   logs    POD [--container C] [--previous]     a container's log
//   down    [--volumes]                          stop every pod gracefully and remove the node (--volumes: the claims too)
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { exitOnMissingPrerequisite, parseCommandLine, usageOf } from '@strata/preflight';
import { ApplyRefused, DockerCluster, REPO_ROOT, type ClusterSnapshot } from './cluster.js';
import { DockerNode } from './docker-node.js';
import { parseImageMap, renderOverlay } from './overlay.js';
import { statusTables } from './status-table.js';

exitOnMissingPrerequisite();
const { positionals, values } = parseCommandLine(import.meta.url, {
  allowPositionals: true,
  options: {
    overlay: { type: 'string', default: 'minikube', description: 'the overlay of k8s/overlays to render' },
    name: { type: 'string', description: "the node's name (default: the overlay's)" },
    tag: { type: 'string', description: "run the Strata images with this tag (dev, a content tag) instead of the overlay's" },
    'image-map': {
      type: 'string',
      multiple: true,
      default: [],
      description: 'IMAGE=LOCAL: run LOCAL where the manifests say IMAGE (repeatable)',
    },
    'node-image': {
      type: 'string',
      description:
        'Node 24 + sleep, for the cluster DNS and the pod sandboxes (default: the first found of $STRATA_BASE_IMAGE, node:24-bookworm-slim, strata/node-base:24)',
    },
    detach: { type: 'boolean', default: false, description: 'up: run the node in the background' },
    volumes: { type: 'boolean', default: false, description: 'down: remove the claims too' },
    container: { type: 'string', short: 'c', description: "logs: the container's name" },
    previous: { type: 'boolean', default: false, description: "logs: the container's previous run" },
    'timeout-seconds': { type: 'string', default: '180', description: 'how long up and apply wait for the rollouts' },
  },
});

const command = positionals[0];
const overlay = values.overlay!;
const overlayDir = existsSync(overlay) ? overlay : join(REPO_ROOT, 'k8s', 'overlays', overlay);
const name = values.name ?? overlay.replace(/[^a-z0-9-]/gi, '-').toLowerCase();
const stateDir = join(REPO_ROOT, '.strata', 'k8s-docker', name);
const stateFile = join(stateDir, 'state.json');
const pidFile = join(stateDir, 'node.pid');

function fail(message: string): never {
  console.error(message);
  process.exit(1);
}

function running(): number | undefined {
  if (!existsSync(pidFile)) return undefined;
  const pid = Number(readFileSync(pidFile, 'utf8'));
  try {
    process.kill(pid, 0);
    return pid;
  } catch {
    return undefined;
  }
}

function readState(): ClusterSnapshot | undefined {
  return existsSync(stateFile) ? (JSON.parse(readFileSync(stateFile, 'utf8')) as ClusterSnapshot) : undefined;
}

const render = () => renderOverlay({ overlayDir, tag: values.tag, workDir: join(stateDir, 'overlay') });

async function up(): Promise<void> {
  const pid = running();
  if (pid) fail(`a node named ${name} is already running (pid ${pid}): npm run k8s:docker -- status --name ${name}, or down`);
  if (values.detach) {
    const log = join(stateDir, 'node.log');
    rmSync(stateFile, { force: true });
    const { mkdirSync } = await import('node:fs');
    mkdirSync(stateDir, { recursive: true });
    const out = openSync(log, 'a');
    const args = process.argv.slice(2).filter((a) => a !== '--detach');
    const child = spawn(process.execPath, [process.argv[1]!, ...args], { detached: true, stdio: ['ignore', out, out] });
    closeSync(out);
    child.unref();
    const until = Date.now() + Number(values['timeout-seconds']) * 1000;
    while (Date.now() < until) {
      const state = readState();
      if (
        state &&
        [...state.deployments, ...state.statefulSets].length > 0 &&
        [...state.deployments, ...state.statefulSets].every((w) => w.done)
      ) {
        console.log(statusTables(state, { events: 0 }));
        console.log(
          `\nthe node runs in the background (pid ${child.pid}, log ${log}); stop it with npm run k8s:docker -- down --name ${name}`,
        );
        return;
      }
      if (child.exitCode !== null || (Date.now() > until - 1 && !running())) break;
      await delay(500);
    }
    fail(`the node did not roll out within ${values['timeout-seconds']} s; see ${log} and npm run k8s:docker -- status --name ${name}`);
  }

  const objects = render();
  const imageMap = parseImageMap(values['image-map']!);
  const cluster = await DockerCluster.start({
    name,
    stateDir,
    nodeImage: values['node-image'],
    imageMap,
    log: (line) => console.log(`  ${line}`),
  });
  writeFileSync(pidFile, String(process.pid));
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    console.log('\nstopping every pod (each with its grace period) …');
    await cluster.stop({ removeVolumes: false });
    rmSync(pidFile, { force: true });
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  // `apply` from another terminal: it writes the new render here and sends SIGHUP.
  process.on('SIGHUP', () => {
    const request = join(stateDir, 'apply.json');
    const result = join(stateDir, 'apply-result.json');
    try {
      const lines = cluster.apply(JSON.parse(readFileSync(request, 'utf8')));
      writeFileSync(result, JSON.stringify({ ok: true, lines }));
    } catch (error) {
      writeFileSync(result, JSON.stringify({ ok: false, message: (error as Error).message }));
    }
  });
  console.log(`node ${name}: Docker network ${cluster.node.networkName}, cluster DNS up; overlay ${overlayDir}`);
  for (const [from, to] of Object.entries(imageMap)) console.log(`image ${from} → ${to} (mapped: it cannot be pulled here)`);
  try {
    for (const line of cluster.apply(objects)) console.log(line);
  } catch (error) {
    await cluster.stop();
    rmSync(pidFile, { force: true });
    fail((error as Error).message);
  }
  const notes = cluster.snapshot().notEnforced;
  if (notes.length) console.log(`\nnot enforced here (${notes.length}):\n${notes.map((n) => `  - ${n}`).join('\n')}\n`);
  const started = Date.now();
  try {
    await cluster.waitForRollouts(Number(values['timeout-seconds']) * 1000);
    console.log(`\nevery workload rolled out in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  } catch (error) {
    console.log(`\n${(error as Error).message}\n`);
  }
  console.log(statusTables(cluster.snapshot(), { events: 0 }));
  for (const s of cluster.snapshot().services)
    for (const p of s.ports)
      if (p.nodePort) console.log(`\n${s.namespace}/${s.name}: http://127.0.0.1:${p.nodePort} (NodePort ${p.nodePort} → ${p.port})`);
  console.log(
    `\nrunning; Ctrl-C stops every pod. In another terminal: npm run k8s:docker -- status${values.name ? ` --name ${name}` : ''}`,
  );
  await new Promise(() => undefined);
}

async function apply(): Promise<void> {
  const pid = running();
  if (!pid) fail(`no node named ${name} is running: start it with npm run k8s:docker -- up --overlay ${overlay}`);
  const request = join(stateDir, 'apply.json');
  const result = join(stateDir, 'apply-result.json');
  rmSync(result, { force: true });
  writeFileSync(request, JSON.stringify(render()));
  process.kill(pid, 'SIGHUP');
  for (let i = 0; i < 100; i++) {
    if (existsSync(result)) {
      const outcome = JSON.parse(readFileSync(result, 'utf8')) as { ok: boolean; lines?: string[]; message?: string };
      if (!outcome.ok) fail(outcome.message!);
      console.log(outcome.lines!.join('\n'));
      return;
    }
    await delay(100);
  }
  fail(`the node (pid ${pid}) did not answer within 10 s`);
}

async function down(): Promise<void> {
  const pid = running();
  if (pid) {
    process.kill(pid, 'SIGTERM');
    for (let i = 0; i < 1200 && running(); i++) await delay(100);
  }
  const node = new DockerNode(name);
  await node.ping().catch((error: Error) => fail(error.message));
  await node.removeEverything(values.volumes!);
  rmSync(pidFile, { force: true });
  console.log(`node ${name} is down${values.volumes ? ', claims removed' : ' (claims kept: --volumes removes them)'}`);
}

async function logs(): Promise<void> {
  const pod = positionals[1] ?? fail('usage: npm run k8s:docker -- logs POD [--container C] [--previous]');
  const node = new DockerNode(name);
  await node.ping();
  const containers = await node.docker.listContainers({
    all: true,
    filters: { label: [`io.strata.k8s-docker.cluster=${name}`] },
  });
  const mine = containers
    .filter((c) => c.Labels['io.strata.k8s-docker.pod']?.endsWith(`/${pod}`) && c.Labels['io.strata.k8s-docker.container'] !== 'POD')
    .filter((c) => !values.container || c.Labels['io.strata.k8s-docker.container'] === values.container)
    .sort((a, b) => b.Created - a.Created);
  const chosen = mine[values.previous ? 1 : 0] ?? fail(`no ${values.previous ? 'previous ' : ''}container of pod ${pod} on node ${name}`);
  process.stdout.write(await node.logs(chosen.Id, 200));
}

switch (command) {
  case 'up':
    await up().catch((error: Error) => fail(error instanceof ApplyRefused ? error.message : error.message));
    break;
  case 'apply':
    await apply();
    break;
  case 'status': {
    const state = readState();
    if (!state || !running())
      fail(`no node named ${name} is running from this checkout (start one with npm run k8s:docker -- up --overlay ${overlay})`);
    console.log(statusTables(state));
    if (state.notEnforced.length)
      console.log(`\n${state.notEnforced.length} object(s) or field(s) are not enforced here (listed when up started)`);
    break;
  }
  case 'down':
    await down();
    break;
  case 'logs':
    await logs();
    break;
  default:
    console.error(usageOf(import.meta.url));
    process.exit(2);
}
