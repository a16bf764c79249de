import { cpSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TopologyView } from '@strata/console';
import { freePort } from '@strata/dev-kit';
import { setOverlayReplicas, startLocalCluster, type LocalCluster } from '@strata/local-cluster';
import { loadServices } from '@strata/service-registry';
import { processCpuSeconds } from './drivers.js';
import { startCounts, trafficWatch, type ExperimentTarget, type ReplicaHandle, type ScaleOut } from './targets.js';

const registry = loadServices();

/**
 * Local processes: the local cluster (as `npm start` runs it) from a copy of k8s/overlays/local, scaled live by editing
 * that copy's `replicas:` — the control loop starts the replicas and every caller's resolver follows. No quotas: each
 * replica may use a whole core, so capacity per replica is bounded by the machine's cores.
 */
export class LocalTarget implements ExperimentTarget {
  readonly name = 'local';
  /** Kubernetes places pods on its own nodes; local processes share every CPU. */
  readonly placement = { name: 'shared' } as const;
  readonly capacityNote =
    "local processes have no CPU quota: a replica may use a whole core, so capacity per replica is bounded by the machine's cores, and on 2 cores adding replicas adds capacity only while a core is idle";
  private notes: string[] = [];

  private constructor(private readonly cluster: LocalCluster) {}

  static async start(stepped: string, first: number, consolePort: number, log: (line: string) => void): Promise<LocalTarget> {
    const copy = mkdtempSync(join(tmpdir(), 'strata-capacity-k8s-'));
    cpSync(join(registry.repoRoot, 'k8s'), join(copy, 'k8s'), { recursive: true });
    const overlayDir = join(copy, 'k8s', 'overlays', 'local');
    for (const [name, count] of Object.entries(startCounts(stepped, first))) setOverlayReplicas(overlayDir, name, count);
    // The page asks for the notes of the target, which exists once the cluster is up.
    const ref: { target?: LocalTarget } = {};
    const cluster = await startLocalCluster({
      overlayDir,
      stateDir: mkdtempSync(join(tmpdir(), 'strata-capacity-')),
      gatewayPort: await freePort(),
      basePort: 23_000,
      ephemeralDatabase: true,
      // Tracing off: the experiment measures the services, not the cost of tracing them (docs/performance.md).
      console: {
        port: consolePort,
        traces: false,
        title: `capacity experiment: ${stepped} on local processes`,
        notes: () => ref.target?.notes ?? [],
      },
      extraEnv: { LOG_LEVEL: 'warn', SHUTDOWN_DELAY_MS: '200', DRAIN_TIMEOUT_MS: '5000' },
    });
    cluster.supervisor.on('event', (line: string) => log(`    ${line}`));
    ref.target = new LocalTarget(cluster);
    log(`    local cluster up; live page: ${cluster.console?.url}`);
    return ref.target;
  }

  get consoleUrl(): string | undefined {
    return this.cluster.console?.url;
  }

  setNotes(notes: string[]): void {
    this.notes = notes;
  }

  services(): string[] {
    return registry.names.filter((n) => this.cluster.supervisor.services().some((s) => s.service === n));
  }

  baseUrls(): string[] {
    // Edge replicas share one port (SO_REUSEPORT): the kernel spreads connections over them.
    return [this.cluster.gatewayUrl];
  }

  grpcAddresses(service: string): string[] {
    return this.cluster.supervisor
      .status()
      .filter((r) => r.service === service && r.state === 'ready')
      .map((r) => r.address);
  }

  replicas(service: string): ReplicaHandle[] {
    return this.cluster.supervisor
      .status()
      .filter((r) => r.service === service && (r.state === 'ready' || r.state === 'starting'))
      .map((r) => ({
        id: r.id,
        service,
        metricsUrl: r.metricsUrl,
        cpuSeconds: () => {
          try {
            return r.pid === undefined ? Number.NaN : processCpuSeconds(r.pid);
          } catch {
            return Number.NaN;
          }
        },
        quota: Number.NaN,
      }));
  }

  async scaleTo(service: string, count: number): Promise<ScaleOut> {
    const before = new Set(this.replicas(service).map((r) => r.id));
    await this.cluster.scale(service, count, 60_000);
    return trafficWatch(this.replicas(service).filter((r) => !before.has(r.id)));
  }

  async othersFingerprint(service: string): Promise<string> {
    return JSON.stringify(
      this.cluster.supervisor
        .status()
        .filter((r) => r.service !== service)
        .map((r) => `${r.id}:${r.pid}:${r.restarts}`),
    );
  }

  view(): TopologyView {
    throw new Error('the local cluster serves its own live page');
  }

  stop(): Promise<void> {
    return this.cluster.stop();
  }
}
