import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import type { TopologyView } from '@strata/console';
import { DockerCluster, REPO_ROOT, parseImageMap, podStatus, renderOverlay, type Pod } from '@strata/k8s-docker';
import { loadServices } from '@strata/service-registry';
import { containerCpuReader, containerThrottledPeriods } from './accounting.js';
import { startCounts, trafficWatch, type ExperimentTarget, type Placement, type ReplicaHandle, type ScaleOut } from './targets.js';

const registry = loadServices();
const NAMESPACE = 'strata';
/** CPU limit of the database's pod while a layer is stepped: enough that it never limits (the data layer is no declared service). */
export const POSTGRES_CPUS = 0.3;
/** Every pod's CPU request in the experiment (see cpuPatch). */
const EQUAL_REQUEST = '100m';
/** The overlay every container of the experiment comes from: minikube's pod specs and the experiment's settings. */
export const CAPACITY_OVERLAY = join(REPO_ROOT, 'k8s', 'overlays', 'capacity');

const cpuPatch = (kind: string, name: string, cores: number) => {
  const value = `${Math.round(cores * 1000)}m`;
  // The limit is the step's quota. The request (which the kubelet turns into cpu.shares) is the same 100m for every
  // pod: on separate nodes no two layers would compete for a core, so none should outweigh another when this host's
  // two cores are momentarily full. With the manifests' requests (the gateway's 4 times orders'), the control's p99
  // (through orders) rose 2–6 times at two catalog replicas in 5 of 5 smoke runs; with equal ones, 1.3–1.8 times.
  return {
    target: { kind, name },
    patch: JSON.stringify([
      { op: 'replace', path: '/spec/template/spec/containers/0/resources/limits/cpu', value },
      { op: 'replace', path: '/spec/template/spec/containers/0/resources/requests/cpu', value: EQUAL_REQUEST },
    ]),
  };
};

/**
 * The experiment sets every layer's replicas itself, step by step: its layer removes the HorizontalPodAutoscalers (as
 * one would `kubectl delete hpa` before such a run), or the runtime's HPA controller would add replicas to a saturated
 * layer and take them from an idle one while a step is measured.
 */
/** The label a pinned run's pods select their emulated node by. */
const NODE_LABEL = 'strata.dev/capacity-node';

/**
 * The pinned arrangement on this host: the stepped layer on the upper half of its CPUs, the rest of the system (the
 * fixed layers, the database, the load driver) on the lower half, as two nodes would keep them apart. On this two-core
 * machine: the stepped layer on CPU 1, everything else on CPU 0. An emulation of node separation, not two nodes: the
 * Docker engine, the runtime itself and the kernel's network stack still run on either.
 */
export function pinnedPlacement(cores: number): Extract<Placement, { name: 'pinned' }> {
  if (cores < 2) throw new Error(`the pinned arrangement needs two CPUs or more; this host has ${cores}`);
  const all = [...Array(cores).keys()];
  const half = Math.floor(cores / 2);
  return { name: 'pinned', fixed: all.slice(0, half), stepped: all.slice(half) };
}

/**
 * Pins this process (the experiment and its load driver: the Node engine's worker threads, or the k6 it starts, which
 * inherit it) to `cpus`, every thread of it (`taskset -a`), as the driver would run on a node of the rest.
 */
export function pinThisProcess(cpus: readonly number[]): void {
  execFileSync('taskset', ['-a', '-p', '-c', cpus.join(','), String(process.pid)], { stdio: 'ignore' });
}

/** A pod template's nodeSelector: the node the pinned arrangement puts it on. */
const nodeSelectorPatch = (kind: string, name: string, node: 'stepped' | 'fixed') => ({
  target: { kind, name },
  patch: JSON.stringify([{ op: 'add', path: '/spec/template/spec/nodeSelector', value: { [NODE_LABEL]: node } }]),
});

const NO_AUTOSCALERS = {
  target: { kind: 'HorizontalPodAutoscaler' },
  patch: ['$patch: delete', 'apiVersion: autoscaling/v2', 'kind: HorizontalPodAutoscaler', 'metadata:', '  name: any'].join('\n'),
};

/**
 * Containers, as the manifests declare them: the real render of k8s/overlays/capacity (the minikube overlay and the
 * experiment's settings) run by the k8s:docker runtime. Each step's replicas and CPU limits are a Kustomize layer on
 * top (`replicas:` and patches, written under .strata/k8s-docker/capacity/overlay); a CPU limit is a CFS quota on a
 * 100 ms period, as the kubelet sets it, so one replica is a fixed amount of capacity. Replicas are added by applying
 * the changed render: the Deployment controller starts pods, the cluster DNS adds them once ready, callers re-resolve.
 */
export class ManifestsTarget implements ExperimentTarget {
  readonly name = 'containers';
  get capacityNote(): string {
    const where =
      this.placement.name === 'pinned'
        ? `; **pinned**: the stepped layer's pods on CPU ${this.placement.stepped.join(',')}, every other pod and the load driver on CPU ${this.placement.fixed.join(',')} (nodeSelectors onto two nodes the runtime emulates as CPU sets: an emulation of node separation on one two-core machine, the Docker engine and the kernel's network work still run on either)`
        : "; **shared**: every pod and the load driver may run on both of the host's CPUs, as on one node";
    return `each replica is a pod of the minikube overlay run by the k8s:docker runtime, with the CPU limit the experiment declares (a CFS quota on a 100 ms period, as the kubelet sets it), so one replica is a fixed amount of capacity${where}`;
  }
  private readonly replicasOf: Record<string, number>;

  private constructor(
    readonly cluster: DockerCluster,
    private readonly stepped: string,
    private readonly cpus: Record<string, number>,
    private readonly tag: string,
    first: number,
    readonly placement: Placement,
  ) {
    this.replicasOf = { postgres: 1, ...startCounts(stepped, first) };
  }

  static async start(
    stepped: string,
    first: number,
    cpus: Record<string, number>,
    options: { tag: string; log: (line: string) => void; placement: Placement },
  ): Promise<ManifestsTarget> {
    const { placement } = options;
    const nodes =
      placement.name === 'pinned'
        ? [
            { name: 'fixed-layers', labels: { [NODE_LABEL]: 'fixed' }, cpus: placement.fixed.join(',') },
            { name: 'stepped-layer', labels: { [NODE_LABEL]: 'stepped' }, cpus: placement.stepped.join(',') },
          ]
        : undefined;
    const cluster = await DockerCluster.start({ name: 'capacity', imageMap: parseImageMap([]), nodes });
    const target = new ManifestsTarget(cluster, stepped, { postgres: POSTGRES_CPUS, ...cpus }, options.tag, first, placement);
    try {
      await target.apply();
      const on = (p: Pod) =>
        placement.name === 'pinned' ? ` on CPU ${(appOf(p) === stepped ? placement.stepped : placement.fixed).join(',')}` : '';
      for (const p of cluster.pods(NAMESPACE)) options.log(`    started ${p.name} (${target.cpus[appOf(p)]} CPU${on(p)}) at ${p.ip}`);
    } catch (error) {
      await cluster.stop({ removeVolumes: true });
      throw error;
    }
    return target;
  }

  /** Renders the capacity overlay with this step's replicas and CPU limits, applies it, waits for the rollouts. */
  private async apply(): Promise<void> {
    const kindOf = (service: string) => (service === 'postgres' ? 'StatefulSet' : 'Deployment');
    const patches = Object.entries(this.cpus).map(([service, cores]) => cpuPatch(kindOf(service), service, cores));
    if (this.placement.name === 'pinned')
      for (const service of this.services())
        patches.push(nodeSelectorPatch(kindOf(service), service, service === this.stepped ? 'stepped' : 'fixed'));
    const objects = renderOverlay({
      overlayDir: CAPACITY_OVERLAY,
      tag: this.tag,
      workDir: join(this.cluster.stateDir, 'overlay'),
      extra: { replicas: Object.entries(this.replicasOf).map(([name, count]) => ({ name, count })), patches: [...patches, NO_AUTOSCALERS] },
    });
    this.cluster.apply(objects);
    await this.cluster.waitForRollouts(180_000, NAMESPACE);
  }

  private pods(service: string): Pod[] {
    return this.cluster.pods(NAMESPACE, { 'app.kubernetes.io/name': service }).filter((p) => !p.deleting && p.ip);
  }

  services(): string[] {
    return ['postgres', ...registry.names];
  }

  /** The container of a replica (its pod's first), for what Kubernetes cannot say but a node can (`docker update`). */
  containerOf(service: string, replicaId: string): string | undefined {
    return this.pods(service).find((p) => p.name === replicaId)?.containers[0]?.containerId;
  }

  baseUrls(): string[] {
    // The edge's endpoints: each ready gateway pod, as an endpoint-aware load balancer (an ingress) sends to them.
    return this.cluster.endpoints(NAMESPACE, registry.inLayer('edge')[0]!.name).map((address) => `http://${address}`);
  }

  grpcAddresses(service: string): string[] {
    return this.cluster.endpoints(NAMESPACE, service, 'grpc');
  }

  replicas(service: string): ReplicaHandle[] {
    const metricsPort = service === 'postgres' ? undefined : registry.metricsPort(service);
    return this.pods(service).map((pod) => {
      const container = () => pod.containers[0]?.containerId;
      return {
        id: pod.name,
        service,
        metricsUrl: metricsPort ? `http://${pod.ip}:${metricsPort}/metrics` : undefined,
        cpuSeconds: () => {
          const id = container();
          const read = id ? containerCpuReader(id) : undefined;
          return read ? read() : Number.NaN;
        },
        quota: this.cpus[service] ?? Number.NaN,
        throttledPeriods: () => {
          const id = container();
          const read = id ? containerThrottledPeriods(id) : undefined;
          return read ? read() : Number.NaN;
        },
      };
    });
  }

  async scaleTo(service: string, count: number): Promise<ScaleOut> {
    const before = new Set(this.replicas(service).map((r) => r.id));
    this.replicasOf[service] = count;
    await this.apply();
    return trafficWatch(this.replicas(service).filter((r) => !before.has(r.id)));
  }

  async othersFingerprint(service: string): Promise<string> {
    return JSON.stringify(
      this.cluster
        .pods(NAMESPACE)
        .filter((p) => appOf(p) !== service)
        .map((p) => `${p.name}:${p.uid}:${p.containers.map((c) => c.restartCount).join(',')}`)
        .sort(),
    );
  }

  view(notes: string[]): TopologyView {
    const layerOf = (service: string) => (service === 'postgres' ? 'data' : registry.get(service).layer);
    const snapshot = this.cluster.snapshot();
    return {
      title: `capacity experiment: ${this.stepped} on containers (k8s/overlays/capacity, run by k8s:docker), ${this.placement.name === 'pinned' ? `pinned: ${this.stepped} on CPU ${this.placement.stepped.join(',')}, the rest on CPU ${this.placement.fixed.join(',')}` : 'shared CPUs'}`,
      services: this.services().map((name) => {
        const pods = snapshot.pods.filter((p) => appOf(p) === name && !p.deleting);
        return {
          name,
          layer: layerOf(name),
          desired: this.replicasOf[name] ?? 0,
          ready: pods.filter((p) => p.ready).length,
          current: pods.length,
        };
      }),
      replicas: this.services().flatMap((name) =>
        this.pods(name).map((p) => ({
          id: p.name,
          service: name,
          layer: layerOf(name),
          state: p.ready ? 'ready' : podStatus(p).toLowerCase(),
          address: p.ip!,
          restarts: p.containers.reduce((n, c) => n + c.restartCount, 0),
          metricsUrl: this.replicas(name).find((r) => r.id === p.name)?.metricsUrl,
        })),
      ),
      events: snapshot.events.slice(-10).map((e) => ({ at: e.lastAt, service: e.object, message: `${e.reason}: ${e.message}` })),
      notes,
    };
  }

  stop(): Promise<void> {
    return this.cluster.stop({ removeVolumes: true });
  }
}

const appOf = (p: Pod) => p.labels['app.kubernetes.io/name'] ?? '';
