import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import type { TopologyView } from '@strata/console';
import { freePort } from '@strata/dev-kit';
import { loadServices } from '@strata/service-registry';
import { trafficWatch, type ExperimentTarget, type ReplicaHandle, type ScaleOut } from './targets.js';

const registry = loadServices();

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
  /** Kubernetes places pods on its own nodes; local processes share every CPU. */
  readonly placement = { name: 'shared' } as const;
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
