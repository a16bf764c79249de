import { existsSync, mkdirSync, readFileSync, rmSync, unwatchFile, watch, watchFile, writeFileSync, type FSWatcher } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startConsole, type RunningConsole, type TopologyView } from '@strata/console';
import { loadServices } from '@strata/service-registry';
import { embeddedDatabaseUrl, pgliteServerArgs } from '@strata/dev-kit';
import { parseDocument, type YAMLMap, type YAMLSeq } from 'yaml';
import { prepareChangeLoop, type ChangeLoop } from './change-loop.js';
import { supervisorView } from './console-view.js';
import { planServices, type ReplicaPlan, type ServiceTemplate } from './local-plan.js';
import { kustomizationFile, readOverlayDeployments } from '@strata/service-registry';
import { readDesiredReplicas } from './overlay-reader.js';
import { LocalAutoscaling, type AutoscalingOptions } from './autoscaling.js';
import type { AutoscalerStatus } from '@strata/autoscaler';
import { Supervisor, type ReconcileEvent, type ReplicaStatus, type ServiceStatus, type SupervisorOptions } from './supervisor.js';

/** The repository this tool belongs to (tools/local-cluster/dist → repo root). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** The most replicas of one service this machine runs locally (an edit asking for more is refused). */
export const MAX_LOCAL_REPLICAS = 16;

export interface LocalClusterOptions {
  overlayDir?: string;
  basePort?: number;
  gatewayPort?: number;
  /** A PostgreSQL to use instead of the embedded one. */
  databaseUrl?: string;
  /** Where state, logs, endpoints and the embedded database live. */
  stateDir?: string;
  /** Keep the embedded database in memory instead of in stateDir (tests). */
  ephemeralDatabase?: boolean;
  extraEnv?: Record<string, string>;
  supervisor?: Partial<Omit<SupervisorOptions, 'logDir' | 'endpointsFile'>>;
  /** Follow edits of the overlay's `replicas:` while running (default true). */
  watchOverlay?: boolean;
  /**
   * Let the overlay's HorizontalPodAutoscalers act (autoscaling.ts): `npm start` turns it on. Off by default, for runs
   * that step replicas themselves (the capacity experiment), as one would `kubectl delete hpa` before such a run.
   */
  autoscaling?: boolean | AutoscalingOptions;
  /**
   * The change loop (`npm start -- --watch`): replicas run immutable revisions of their builds, and a saved change of
   * a service, a library or a .proto is compiled and rolled out (change-loop.ts). Off by default.
   */
  watchSources?: boolean;
  /**
   * Serve the live page (layers, replicas, rates, traces) and collect the services' spans: every replica exports to it
   * (`OTEL_EXPORTER_OTLP_ENDPOINT`). Off when undefined.
   */
  console?: { port?: number; title?: string; notes?: () => string[]; /** Collect the services' traces (default true). */ traces?: boolean };
}

/** What `status` reads: written by the running cluster on every change. */
export interface ClusterState {
  pid: number;
  startedAt: string;
  gatewayUrl: string;
  consoleUrl?: string;
  databaseUrl: string;
  overlay: string;
  services: ServiceStatus[];
  replicas: ReplicaStatus[];
  events: ReconcileEvent[];
  /** The autoscalers acting, when autoscaling is on. */
  autoscalers?: AutoscalerStatus[];
}

/** The data layer of the local cluster: the embedded PostgreSQL (PGlite), unless a URL is given. */
const DATA = 'postgres (embedded PGlite)';

/** Plans every local service: the embedded database (unless a URL is given) and each Deployment of the overlay. */
export function planLocalCluster(options: LocalClusterOptions = {}) {
  // Below Linux's ephemeral range (32768–60999), so no outgoing connection can hold a replica's port.
  const basePort = options.basePort ?? 21_000;
  const gatewayPort = options.gatewayPort ?? 8080;
  const stateDir = options.stateDir ?? join(REPO_ROOT, '.strata');
  const overlayDir = options.overlayDir ?? join(REPO_ROOT, 'k8s', 'overlays', 'local');
  const databasePort = basePort + 99;
  const databaseUrl = options.databaseUrl ?? embeddedDatabaseUrl(databasePort);
  const endpointsFile = join(stateDir, 'endpoints.json');
  const registry = loadServices(REPO_ROOT);
  const deployments = readOverlayDeployments(overlayDir);
  const templates = planServices(deployments, registry, {
    repoRoot: REPO_ROOT,
    basePort,
    gatewayPort,
    databaseUrl,
    endpointsFile,
    extraEnv: options.extraEnv,
  });
  if (!options.databaseUrl) {
    const [script, ...args] = pgliteServerArgs(databasePort, options.ephemeralDatabase ? undefined : join(stateDir, 'pgdata'));
    templates.unshift({
      name: DATA,
      layer: 'data',
      kind: 'data',
      replica: () => ({
        id: 'postgres-1',
        service: DATA,
        layer: 'data',
        script: script!,
        args,
        env: {},
        address: `127.0.0.1:${databasePort}`,
        probe: { kind: 'postgres', url: databaseUrl },
        metricsUrl: '-',
      }),
    });
  }
  return { templates, deployments, gatewayUrl: `http://127.0.0.1:${gatewayPort}`, databaseUrl, stateDir, overlayDir, endpointsFile };
}

/** The replicas `up` starts: the embedded database (unless a URL is given) and each service's declared count. */
export function initialReplicas(options: LocalClusterOptions = {}): ReplicaPlan[] {
  const { templates, overlayDir } = planLocalCluster(options);
  const desired = readDesiredReplicas(overlayDir, MAX_LOCAL_REPLICAS);
  return templates.flatMap((t) => Array.from({ length: t.kind === 'data' ? 1 : (desired.get(t.name) ?? 0) }, (_, i) => t.replica(i + 1)));
}

/** The ports a replica listens on (its gRPC or ops port and its metrics port; the database's port). */
export function portsOf(replica: ReplicaPlan): number[] {
  const { GRPC_PORT, METRICS_PORT, OPS_PORT } = replica.env;
  const own = [GRPC_PORT, METRICS_PORT, OPS_PORT].filter((p): p is string => p !== undefined).map(Number);
  return replica.layer === 'data' ? [Number(new URL(`tcp://${replica.address}`).port)] : own;
}

/** A running local cluster. */
export interface LocalCluster {
  readonly supervisor: Supervisor;
  readonly gatewayUrl: string;
  /** The live page, when it was asked for. */
  readonly console?: RunningConsole;
  /** The change loop, when watchSources asked for it. */
  readonly changes?: ChangeLoop;
  /** The HPA controller, when autoscaling is on. */
  readonly autoscaling?: LocalAutoscaling;
  readonly overlayDir: string;
  readonly templates: ServiceTemplate[];
  /** The replicas as they are now (they change as the cluster scales). */
  readonly plans: ReplicaPlan[];
  /** Declares `count` replicas of `service` in the overlay file, as a user would, and waits until the loop converged. */
  scale(service: string, count: number, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts the local cluster with the replicas of the overlay, keeps its state file current, and — the control loop —
 * follows every edit of the overlay's `replicas:` while it runs: an edit that is not valid YAML, names an unknown
 * service or asks for a bad count is refused with one log line, and the running state is kept.
 */
export async function startLocalCluster(options: LocalClusterOptions = {}): Promise<LocalCluster> {
  // The console starts first: the replicas are told where to send their spans when they start.
  const title = options.console?.title ?? 'local cluster (k8s/overlays/local)';
  let view = (): TopologyView => ({ title, services: [], replicas: [], events: [] });
  const console_ = options.console ? await startConsole({ port: options.console.port, source: () => view() }) : undefined;
  const tracingEnv: Record<string, string> =
    console_ && options.console?.traces !== false
      ? { OTEL_EXPORTER_OTLP_ENDPOINT: console_.otlpEndpoint, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' }
      : {};
  const { templates, deployments, gatewayUrl, databaseUrl, stateDir, overlayDir, endpointsFile } = planLocalCluster({
    ...options,
    extraEnv: { ...tracingEnv, ...options.extraEnv },
  });
  mkdirSync(stateDir, { recursive: true });
  rmSync(endpointsFile, { force: true });
  const stateFile = join(stateDir, 'local-cluster.json');
  const supervisor = new Supervisor(templates, { logDir: join(stateDir, 'logs'), endpointsFile, ...options.supervisor });
  let autoscaling: LocalAutoscaling | undefined;
  view = () => supervisorView(supervisor, title, options.console?.notes, autoscaling?.status());
  const startedAt = new Date().toISOString();
  const writeState = () => {
    const state: ClusterState = {
      pid: process.pid,
      startedAt,
      gatewayUrl,
      consoleUrl: console_?.url,
      databaseUrl: databaseUrl.replace(/:[^:@/]*@/, ':***@'),
      overlay: overlayDir,
      services: supervisor.services(),
      replicas: supervisor.status(),
      events: supervisor.events(),
      ...(autoscaling ? { autoscalers: autoscaling.status() } : {}),
    };
    writeFileSync(stateFile, JSON.stringify(state, null, 2));
  };
  supervisor.on('change', writeState);
  const killOnExit = () => supervisor.killAllNow();
  process.once('exit', killOnExit);

  const desired = readDesiredReplicas(overlayDir, MAX_LOCAL_REPLICAS);
  for (const t of templates) if (t.kind === 'data') desired.set(t.name, 1);
  let changes: ChangeLoop | undefined;
  try {
    // Before the first replica starts: each service's build becomes its first revision, and replicas start from it.
    const changeLoop = options.watchSources ? await prepareChangeLoop({ repoRoot: REPO_ROOT, stateDir, supervisor, templates }) : undefined;
    await supervisor.start(desired);
    changes = changeLoop?.start();
    if (options.autoscaling) {
      autoscaling = new LocalAutoscaling(supervisor, overlayDir, deployments, options.autoscaling === true ? {} : options.autoscaling);
      autoscaling.start();
    }
  } catch (error) {
    await supervisor.stop();
    await console_?.close();
    process.off('exit', killOnExit);
    throw error;
  }
  const stopWatching = options.watchOverlay === false ? () => undefined : watchOverlay(overlayDir, supervisor, templates, autoscaling);

  return {
    supervisor,
    gatewayUrl,
    console: console_,
    changes,
    autoscaling,
    overlayDir,
    templates,
    get plans() {
      return supervisor
        .status()
        .map((s) => templates.find((t) => t.name === s.service)!.replica(Number(s.id.slice(s.id.lastIndexOf('-') + 1))));
    },
    scale: async (service, count, timeoutMs = 30_000) => {
      setOverlayReplicas(overlayDir, service, count);
      // The watcher picks the edit up within a fraction of a second; applying it here too makes the call deterministic.
      supervisor.setDesired(service, count, 'overlay edited');
      await supervisor.converged(timeoutMs);
    },
    stop: async () => {
      stopWatching();
      autoscaling?.stop();
      await changes?.stop();
      await supervisor.stop();
      await console_?.close();
      supervisor.off('change', writeState);
      process.off('exit', killOnExit);
      rmSync(stateFile, { force: true });
      rmSync(endpointsFile, { force: true });
    },
  };
}

/**
 * Watches the overlay's kustomization file (inotify on its folder, and a stat poll as a safety net) and hands every
 * valid change of `replicas:` to the supervisor — only the entries that changed, as `kubectl apply` leaves a field it
 * did not change alone, so a count an autoscaler set is not reset by an edit of another service. The autoscalers
 * re-read their minima (the declared counts) and maxima. Returns a function that stops watching.
 */
function watchOverlay(
  overlayDir: string,
  supervisor: Supervisor,
  templates: readonly ServiceTemplate[],
  autoscaling: LocalAutoscaling | undefined,
): () => void {
  const file = kustomizationFile(overlayDir);
  let last = readFileSync(file, 'utf8');
  let declared = readDesiredReplicas(overlayDir, MAX_LOCAL_REPLICAS);
  let timer: NodeJS.Timeout | undefined;
  const apply = () => {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      return; // an editor replacing the file: the next event has it
    }
    if (text === last) return;
    last = text;
    let desired: Map<string, number>;
    try {
      desired = readDesiredReplicas(overlayDir, MAX_LOCAL_REPLICAS);
    } catch (error) {
      const current = supervisor
        .services()
        .filter((s) => s.layer !== 'data')
        .map((s) => `${s.service} ${s.desired}`)
        .join(', ');
      supervisor.emit('event', `overlay edit refused: ${(error as Error).message}; keeping ${current}`);
      return;
    }
    for (const t of templates)
      if (t.kind !== 'data' && desired.has(t.name) && desired.get(t.name) !== declared.get(t.name))
        supervisor.setDesired(t.name, desired.get(t.name)!, 'overlay edited');
    declared = desired;
    try {
      autoscaling?.reload();
    } catch (error) {
      supervisor.emit('event', `autoscalers not reloaded: ${(error as Error).message}`);
    }
  };
  const changed = () => {
    clearTimeout(timer);
    timer = setTimeout(apply, 150);
  };
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(overlayDir, changed);
  } catch {
    // the poll below still notices
  }
  watchFile(file, { interval: 1_000, persistent: false }, changed);
  return () => {
    clearTimeout(timer);
    watcher?.close();
    unwatchFile(file);
  };
}

/** Writes `count` into the overlay's `replicas:` entry for `service` (the declarative way to scale), keeping comments. */
export function setOverlayReplicas(overlayDir: string, service: string, count: number): void {
  const file = kustomizationFile(overlayDir);
  const document = parseDocument(readFileSync(file, 'utf8'));
  const replicas = document.get('replicas') as YAMLSeq<YAMLMap> | undefined;
  const entry = replicas?.items.find((item) => item.get('name') === service);
  if (!entry) throw new Error(`${file} declares no replicas for ${service}`);
  entry.set('count', count);
  writeFileSync(file, document.toString({ flowCollectionPadding: false }));
}

/** The state of the cluster running from this checkout (or from STRATA_STATE_DIR), if one is. */
export function readClusterState(stateDir = process.env.STRATA_STATE_DIR || join(REPO_ROOT, '.strata')): ClusterState | undefined {
  const file = join(stateDir, 'local-cluster.json');
  if (!existsSync(file)) return undefined;
  const state = JSON.parse(readFileSync(file, 'utf8')) as ClusterState;
  try {
    process.kill(state.pid, 0);
    return state;
  } catch {
    return undefined; // left behind by a cluster that is gone
  }
}
