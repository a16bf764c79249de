import { mkdirSync, rmSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { embeddedDatabaseUrl, pgliteServerArgs } from '@strata/test-kit';
import { loadServices } from '@strata/service-registry';
import { planLocalReplicas, type ReplicaPlan } from './local-plan.js';
import { readOverlayDeployments } from './overlay-reader.js';
import { Supervisor, type ReplicaStatus, type SupervisorOptions } from './supervisor.js';

/** The repository this tool belongs to (tools/local-cluster/dist → repo root). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

export interface LocalClusterOptions {
  overlayDir?: string;
  basePort?: number;
  gatewayPort?: number;
  /** A PostgreSQL to use instead of the embedded one. */
  databaseUrl?: string;
  /** Where state, logs and the embedded database live. */
  stateDir?: string;
  /** Keep the embedded database in memory instead of in stateDir (tests). */
  ephemeralDatabase?: boolean;
  extraEnv?: Record<string, string>;
  supervisor?: Partial<SupervisorOptions>;
}

/** What `status` reads: written by the running cluster on every change. */
export interface ClusterState {
  pid: number;
  startedAt: string;
  gatewayUrl: string;
  databaseUrl: string;
  replicas: ReplicaStatus[];
}

/** Plans every local process: the embedded database (unless a URL is given) and each service replica. */
export function planLocalCluster(options: LocalClusterOptions = {}): {
  plans: ReplicaPlan[];
  gatewayUrl: string;
  databaseUrl: string;
  stateDir: string;
} {
  // Below Linux's ephemeral range (32768–60999), so no outgoing connection can hold a replica's port.
  const basePort = options.basePort ?? 21_000;
  const gatewayPort = options.gatewayPort ?? 8080;
  const stateDir = options.stateDir ?? join(REPO_ROOT, '.strata');
  const databasePort = basePort + 99;
  const databaseUrl = options.databaseUrl ?? embeddedDatabaseUrl(databasePort);
  const deployments = readOverlayDeployments(options.overlayDir ?? join(REPO_ROOT, 'k8s', 'overlays', 'local'));
  const plans = planLocalReplicas(deployments, loadServices(REPO_ROOT), {
    repoRoot: REPO_ROOT,
    basePort,
    gatewayPort,
    databaseUrl,
    extraEnv: options.extraEnv,
  });
  if (!options.databaseUrl) {
    const [script, ...args] = pgliteServerArgs(databasePort, options.ephemeralDatabase ? undefined : join(stateDir, 'pgdata'));
    plans.unshift({
      id: 'postgres-1',
      service: 'postgres (embedded PGlite)',
      layer: 'data',
      script: script!,
      args,
      env: {},
      address: `127.0.0.1:${databasePort}`,
      probe: { kind: 'postgres', url: databaseUrl },
      metricsUrl: '-',
    });
  }
  return { plans, gatewayUrl: `http://127.0.0.1:${gatewayPort}`, databaseUrl, stateDir };
}

/** A running local cluster. */
export interface LocalCluster {
  readonly supervisor: Supervisor;
  readonly gatewayUrl: string;
  readonly plans: ReplicaPlan[];
  stop(): Promise<void>;
}

/** Starts the local cluster and keeps its state file current. */
export async function startLocalCluster(options: LocalClusterOptions = {}): Promise<LocalCluster> {
  const { plans, gatewayUrl, databaseUrl, stateDir } = planLocalCluster(options);
  mkdirSync(stateDir, { recursive: true });
  const stateFile = join(stateDir, 'local-cluster.json');
  const supervisor = new Supervisor(plans, { logDir: join(stateDir, 'logs'), ...options.supervisor });
  const startedAt = new Date().toISOString();
  const writeState = (replicas: ReplicaStatus[]) => {
    const state: ClusterState = {
      pid: process.pid,
      startedAt,
      gatewayUrl,
      databaseUrl: databaseUrl.replace(/:[^:@/]*@/, ':***@'),
      replicas,
    };
    writeFileSync(stateFile, JSON.stringify(state, null, 2));
  };
  supervisor.on('change', writeState);
  const killOnExit = () => supervisor.killAllNow();
  process.once('exit', killOnExit);
  try {
    await supervisor.start();
  } catch (error) {
    await supervisor.stop();
    throw error;
  }
  return {
    supervisor,
    gatewayUrl,
    plans,
    stop: async () => {
      await supervisor.stop();
      supervisor.off('change', writeState);
      process.off('exit', killOnExit);
      rmSync(stateFile, { force: true });
    },
  };
}

/** The state of the cluster running from this checkout, if one is. */
export function readClusterState(stateDir = join(REPO_ROOT, '.strata')): ClusterState | undefined {
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
