import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TopologyView } from '@strata/console';
import { setOverlayReplicas, startLocalCluster, type LocalCluster } from '@strata/local-cluster';
import { loadServices } from '@strata/service-registry';
import { freePort } from '@strata/dev-kit';
import { requestsServed } from './accounting.js';
import type { LoadEndpoints } from './drivers.js';
import { processCpuSeconds } from './drivers.js';

const registry = loadServices();

/** One replica as the experiment accounts for it. */
export interface ReplicaHandle {
  id: string;
  service: string;
  metricsUrl?: string;
  /** CPU seconds it has used so far; NaN where this target cannot read them. */
  cpuSeconds(): number;
  /** Its CPU quota in cores; NaN where there is none (local processes). */
  quota: number;
  /** CFS periods in which its quota throttled it, so far (containers). */
  throttledPeriods?(): number;
}

export interface ScaleOut {
  /** Per new replica, seconds from ready to its first served call (NaN if none within the timeout). */
  secondsUntilTraffic(timeoutMs: number): Promise<number[]>;
}

/** Where the experiment runs: containers (default), local processes, or a Kubernetes cluster. */
export interface ExperimentTarget extends LoadEndpoints {
  readonly name: 'containers' | 'local' | 'k8s';
  /** What sets one replica's capacity here, for the report. */
  readonly capacityNote: string;
  /** Every workload whose CPU is accounted for, in start order. */
  services(): string[];
  replicas(service: string): ReplicaHandle[];
  /** Adds replicas of `service` up to `count`, live; resolves when they are ready. */
  scaleTo(service: string, count: number): Promise<ScaleOut>;
  /** Start times and restart counts of every other workload, to show that nothing else restarted. */
  othersFingerprint(service: string): Promise<string>;
  /** What the live page shows while the experiment runs. */
  view(notes: string[]): TopologyView;
  stop(): Promise<void>;
}

/** Waits until each new replica has served a call (its own metrics say so). */
export function trafficWatch(added: readonly ReplicaHandle[]): ScaleOut {
  const readyAt = Date.now();
  return {
    secondsUntilTraffic: (timeoutMs) =>
      Promise.all(
        added.map(async (replica) => {
          while (Date.now() - readyAt < timeoutMs) {
            if ((await requestsServed(replica.metricsUrl)) > 0) return (Date.now() - readyAt) / 1000;
            await new Promise((r) => setTimeout(r, 200));
          }
          return Number.NaN;
        }),
      ),
  };
}

/** The replica counts the experiment starts from: one of everything, `steps[0]` of the stepped service. */
export const startCounts = (stepped: string, first: number) =>
  Object.fromEntries(registry.names.map((n) => [n, n === stepped ? first : 1]));

/**
 * Local processes: the local cluster (as `npm start` runs it) from a copy of k8s/overlays/local, scaled live by editing
 * that copy's `replicas:` — the control loop starts the replicas and every caller's resolver follows. No quotas: each
 * replica may use a whole core, so capacity per replica is bounded by the machine's cores.
 */
export class LocalTarget implements ExperimentTarget {
  readonly name = 'local';
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

interface PodInfo {
  name: string;
  service: string;
  ip: string;
  quota: number;
  startedAt: string;
  restarts: number;
}

/** A Kubernetes CPU quantity ("500m", "1") in cores. */
export function cpuCores(quantity: string | undefined): number {
  if (!quantity) return Number.NaN;
  return quantity.endsWith('m') ? Number(quantity.slice(0, -1)) / 1000 : Number(quantity);
}

/**
 * A Kubernetes cluster (the current kubectl context, e.g. minikube): `kubectl scale` adds replicas (the HPA's
 * minReplicas is raised with it, or it would scale back); the gateway URL is given. gRPC replicas and every pod's
 * metrics port are reached through `kubectl port-forward`, one per pod, so probes, request shares and CPU (the pods'
 * own process_cpu_seconds_total) work from outside the cluster. Quotas are the pods' CPU limits.
 */
export class KubernetesTarget implements ExperimentTarget {
  readonly name = 'k8s';
  readonly capacityNote = "each pod has a CPU limit (the overlay's resources), so one replica is a fixed amount of capacity";
  private readonly forwards = new Map<string, { child: ChildProcess; port: number }>();
  private pods: PodInfo[] = [];

  constructor(
    private readonly baseUrl: string,
    private readonly namespace = 'strata',
  ) {}

  private kubectl(...args: string[]): string {
    return execFileSync('kubectl', ['-n', this.namespace, ...args], { encoding: 'utf8' });
  }

  /** Reads the pods (call before a step's measurements; port-forwards follow). */
  async refresh(): Promise<void> {
    const list = JSON.parse(this.kubectl('get', 'pods', '-l', 'app.kubernetes.io/part-of=strata', '-o', 'json')) as {
      items: {
        metadata: { name: string; labels: Record<string, string> };
        status: { podIP?: string; phase: string; startTime?: string; containerStatuses?: { restartCount: number; ready: boolean }[] };
        spec: { containers: { resources?: { limits?: { cpu?: string } } }[] };
      }[];
    };
    this.pods = list.items
      .filter((p) => p.status.phase === 'Running' && (p.status.containerStatuses ?? []).every((c) => c.ready))
      .map((p) => ({
        name: p.metadata.name,
        service: p.metadata.labels['app.kubernetes.io/name']!,
        ip: p.status.podIP ?? '',
        quota: cpuCores(p.spec.containers[0]?.resources?.limits?.cpu),
        startedAt: p.status.startTime ?? '',
        restarts: (p.status.containerStatuses ?? []).reduce((a, c) => a + c.restartCount, 0),
      }));
    for (const pod of this.pods) {
      if (!registry.has(pod.service)) continue;
      if (registry.get(pod.service).layer !== 'edge') await this.forward(pod.name, registry.port(pod.service, 'grpc'));
      await this.forward(pod.name, registry.metricsPort(pod.service));
    }
  }

  private async forward(pod: string, remotePort: number): Promise<number> {
    const key = `${pod}:${remotePort}`;
    const existing = this.forwards.get(key);
    if (existing) return existing.port;
    const port = await freePort();
    const child = spawn('kubectl', ['-n', this.namespace, 'port-forward', `pod/${pod}`, `${port}:${remotePort}`], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`kubectl port-forward pod/${pod} ${remotePort}: no answer in 15 s`)), 15_000);
      child.stdout!.on('data', (d: Buffer) => {
        if (String(d).includes('Forwarding from')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('exit', (code) => reject(new Error(`kubectl port-forward pod/${pod} exited with ${code}`)));
    });
    this.forwards.set(key, { child, port });
    return port;
  }

  private local(pod: string, remotePort: number): string | undefined {
    const f = this.forwards.get(`${pod}:${remotePort}`);
    return f ? `127.0.0.1:${f.port}` : undefined;
  }

  services(): string[] {
    return registry.names;
  }

  baseUrls(): string[] {
    return [this.baseUrl];
  }

  grpcAddresses(service: string): string[] {
    const port = registry.port(service, 'grpc');
    return this.pods.filter((p) => p.service === service).flatMap((p) => this.local(p.name, port) ?? []);
  }

  replicas(service: string): ReplicaHandle[] {
    const metricsPort = registry.metricsPort(service);
    return this.pods
      .filter((p) => p.service === service)
      .map((p) => {
        const address = this.local(p.name, metricsPort);
        const metricsUrl = address ? `http://${address}/metrics` : undefined;
        // No cgroup here: CPU comes from the pod's own process_cpu_seconds_total (the experiment reads it when this is NaN).
        return { id: p.name, service, metricsUrl, quota: p.quota, cpuSeconds: () => Number.NaN };
      });
  }

  async scaleTo(service: string, count: number): Promise<ScaleOut> {
    const before = new Set(this.replicas(service).map((r) => r.id));
    // The HPA keeps minReplicas = the overlay's declaration; raise it with the scale, or it would scale back (and its
    // maximum with it where the overlay's is lower: an HPA with min above max is invalid).
    const max = Number(this.kubectl('get', 'hpa', service, '-o', 'jsonpath={.spec.maxReplicas}'));
    this.kubectl(
      'patch',
      'hpa',
      service,
      '--type=merge',
      '-p',
      JSON.stringify({ spec: { minReplicas: count, maxReplicas: Math.max(max, count) } }),
    );
    this.kubectl('scale', `deployment/${service}`, `--replicas=${count}`);
    this.kubectl('rollout', 'status', `deployment/${service}`, '--timeout=180s');
    await this.refresh();
    return trafficWatch(this.replicas(service).filter((r) => !before.has(r.id)));
  }

  async othersFingerprint(service: string): Promise<string> {
    await this.refresh();
    return JSON.stringify(
      this.pods
        .filter((p) => p.service !== service)
        .map((p) => `${p.name}:${p.startedAt}:${p.restarts}`)
        .sort(),
    );
  }

  /** Puts a layer back to `count` replicas (the start of the experiment). */
  async reset(service: string, count: number): Promise<void> {
    this.kubectl('scale', `deployment/${service}`, `--replicas=${count}`);
    this.kubectl('patch', 'hpa', service, '--type=merge', '-p', JSON.stringify({ spec: { minReplicas: count } }));
    this.kubectl('rollout', 'status', `deployment/${service}`, '--timeout=180s');
    await this.refresh();
  }

  view(notes: string[]): TopologyView {
    return {
      title: `capacity experiment on Kubernetes (namespace ${this.namespace})`,
      services: registry.services.map((s) => {
        const n = this.pods.filter((p) => p.service === s.name).length;
        return { name: s.name, layer: s.layer, desired: n, ready: n, current: n };
      }),
      replicas: this.pods
        .filter((p) => registry.has(p.service))
        .map((p) => ({
          id: p.name,
          service: p.service,
          layer: registry.get(p.service).layer,
          state: 'ready',
          address: p.ip,
          restarts: p.restarts,
          metricsUrl: this.replicas(p.service).find((r) => r.id === p.name)?.metricsUrl,
        })),
      events: [],
      notes,
    };
  }

  async stop(): Promise<void> {
    for (const f of this.forwards.values()) f.child.kill();
  }
}
