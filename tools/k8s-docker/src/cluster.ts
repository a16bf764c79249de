import { createHash, randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { admit } from './admission.js';
import { NodeAutoscalers } from './autoscaling.js';
import { DeploymentController, StatefulSetController, type ControllerHost } from './controllers.js';
import { CLUSTER_LABEL, DockerNode } from './docker-node.js';
import { PodWorker, type EventType, type Pod } from './kubelet.js';
import { NodePort } from './node-ports.js';
import { describe, matches, resolvePort, type KubeObject, type PodTemplate } from './objects.js';
import type { NamespaceObjects } from './pod-plan.js';

/** The repository this tool belongs to (tools/k8s-docker/dist → the root). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

export interface ClusterOptions {
  /** Names the Docker network and every object made ("minikube" → network k8sd-minikube). */
  name: string;
  stateDir?: string;
  /** An image with Node 24 (the cluster DNS runs in it) and `sleep` (pod sandboxes): the base of Strata's images. */
  nodeImage?: string;
  /** Images that cannot be had here, replaced by local ones: `postgres:16-bookworm` → `strata/postgres:dev`. */
  imageMap?: Record<string, string>;
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  /** The HPA controller's sync period (15 s, the controller manager's default). */
  hpaSyncPeriodMs?: number;
  /**
   * Nodes emulated on this one host as CPU sets: a pod whose `nodeSelector` every label of a node satisfies runs its
   * containers on that node's CPUs only (`--cpuset-cpus`), as separate machines would keep two layers off each other's
   * cores; a pod that selects no declared node, or none, runs on every CPU (with a Warning event when it selected one
   * that is not declared). Without nodes, one Docker host is one node and `nodeSelector` is not enforced.
   */
  nodes?: readonly NodeCpus[];
  log?: (line: string) => void;
}

/** One emulated node: its labels (what a `nodeSelector` matches) and the host CPUs that stand for it ("1", "0-1"). */
export interface NodeCpus {
  name: string;
  labels: Record<string, string>;
  cpus: string;
}

/** The node a pod's `nodeSelector` places it on: the first whose labels satisfy every entry (none without a selector). */
export function nodeFor(nodes: readonly NodeCpus[], selector: Record<string, string> | undefined): NodeCpus | undefined {
  const wanted = Object.entries(selector ?? {});
  if (wanted.length === 0) return undefined;
  return nodes.find((n) => wanted.every(([k, v]) => n.labels[k] === v));
}

export interface ClusterEvent {
  firstAt: string;
  lastAt: string;
  count: number;
  namespace: string;
  object: string;
  type: EventType;
  reason: string;
  message: string;
}

export interface ServiceView {
  namespace: string;
  name: string;
  type: string;
  clusterIP: string;
  ports: { name?: string; port: number; targetPort: number | undefined; nodePort?: number }[];
  /** "ip:targetPort" of every endpoint, per port name (the first port's under ""). */
  endpoints: string[];
}

export interface ClusterSnapshot {
  name: string;
  pid: number;
  startedAt: string;
  imageMap: Record<string, string>;
  notEnforced: string[];
  pods: Pod[];
  deployments: {
    namespace: string;
    name: string;
    replicas: number;
    ready: number;
    updated: number;
    available: number;
    rollout: string;
    done: boolean;
  }[];
  statefulSets: { namespace: string; name: string; replicas: number; ready: number; rollout: string; done: boolean }[];
  services: ServiceView[];
  /** The HorizontalPodAutoscalers as their last sync left them. */
  autoscalers: ReturnType<NodeAutoscalers['status']>;
  events: ClusterEvent[];
}

/** An apply that the runtime refuses as a whole (as the API server refuses an invalid object). */
export class ApplyRefused extends Error {
  constructor(readonly problems: string[]) {
    super(`refused:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

const keyOf = (o: KubeObject) => `${o.kind}/${o.metadata.namespace ?? 'default'}/${o.metadata.name}`;
const stable = (o: unknown) => JSON.stringify(o, Object.keys(o as object).sort());
/** What `kubectl get` shows of a Deployment or StatefulSet, from its object and its controller's status. */
const workloadRow = (o: KubeObject, s: { ready: number; rollout: { message: string; done: boolean } }) => ({
  namespace: o.metadata.namespace ?? 'default',
  name: o.metadata.name,
  replicas: o.spec.replicas ?? 1,
  ready: s.ready,
  rollout: s.rollout.message,
  done: s.rollout.done,
});

/**
 * Kubernetes' node and core controllers on one Docker engine: applied objects (the real render of an overlay) become
 * pods as a kubelet runs them, Deployments and StatefulSets are reconciled by controllers of the same semantics,
 * Services answer in the cluster DNS only with ready pods, NodePorts listen on 127.0.0.1. One control loop; every
 * pass compares what is declared with what runs and acts.
 */
export class DockerCluster extends EventEmitter {
  readonly node: DockerNode;
  readonly stateDir: string;
  readonly startedAt = new Date().toISOString();
  private readonly objects = new Map<string, KubeObject>();
  private readonly workers = new Map<string, PodWorker>();
  private readonly deployments = new DeploymentController();
  private readonly statefulSets = new StatefulSetController();
  private readonly autoscalers: NodeAutoscalers;
  private readonly recent: ClusterEvent[] = [];
  private readonly nodePorts = new Map<string, NodePort>();
  private readonly clusterIPs = new Map<string, string>();
  private notEnforced: string[] = [];
  private dnsAddress = '';
  private dnsContainer = '';
  private lastRecords = '';
  private timer?: NodeJS.Timeout;
  private ticking = false;
  private stopping = false;
  private stateDirty = true;
  private lastWrite = 0;
  private nodeImage: string;
  /** The image the sandboxes and the cluster DNS run (a Node 24 Debian image). */
  get image(): string {
    return this.nodeImage;
  }
  private readonly imageMap: Record<string, string>;

  private constructor(private readonly options: ClusterOptions) {
    super();
    this.node = new DockerNode(options.name);
    this.stateDir = options.stateDir ?? join(REPO_ROOT, '.strata', 'k8s-docker', options.name);
    this.nodeImage = options.nodeImage ?? '';
    this.imageMap = options.imageMap ?? {};
    this.autoscalers = new NodeAutoscalers(options.hpaSyncPeriodMs);
  }

  /** Starts the node: the network, the cluster DNS, the engine's event stream, the control loop. */
  static async start(options: ClusterOptions): Promise<DockerCluster> {
    const cluster = new DockerCluster(options);
    await cluster.node.ping();
    // The base every Strata image is built from has Node 24 and `sleep`: wherever the images were built, it is here.
    const candidates = options.nodeImage
      ? [options.nodeImage]
      : [process.env.STRATA_BASE_IMAGE, 'node:24-bookworm-slim', 'strata/node-base:24'];
    for (const candidate of candidates)
      if (candidate && !cluster.nodeImage && (await cluster.node.image(candidate))) cluster.nodeImage = candidate;
    if (!cluster.nodeImage)
      throw new Error(
        `no node image (Node 24, for the cluster DNS and the pod sandboxes) is here: tried ${candidates.filter(Boolean).join(', ')}; build one (npm run images:ci-base makes strata/node-base:24) or pass --node-image`,
      );
    mkdirSync(cluster.stateDir, { recursive: true });
    await cluster.node.removeEverything(false);
    await cluster.node.ensureNetwork();
    await cluster.node.watchEvents();
    cluster.node.on('die', (id: string) => {
      for (const worker of cluster.workers.values()) if (worker.containerIds().includes(id)) void worker.onExit(id);
    });
    await cluster.startDns();
    cluster.timer = setInterval(() => void cluster.tick(), 250);
    cluster.timer.unref();
    return cluster;
  }

  private log(line: string) {
    this.options.log?.(line);
  }

  private async startDns(): Promise<void> {
    const container = await this.node.docker.createContainer({
      name: `k8sd-${this.options.name}-dns`,
      Image: this.nodeImage,
      Entrypoint: ['node'],
      Cmd: [join(REPO_ROOT, 'tools', 'k8s-docker', 'dist', 'dns-server.js')],
      Labels: { [CLUSTER_LABEL]: this.options.name, 'io.strata.k8s-docker.role': 'dns' },
      HostConfig: {
        NetworkMode: this.node.networkName,
        ReadonlyRootfs: true,
        RestartPolicy: { Name: 'unless-stopped' },
        Mounts: [{ Type: 'bind', Source: REPO_ROOT, Target: REPO_ROOT, ReadOnly: true }],
        Memory: 128 * 2 ** 20,
      },
    });
    await container.start();
    const info = await container.inspect();
    this.dnsContainer = info.Id;
    this.dnsAddress = info.NetworkSettings.Networks[this.node.networkName]!.IPAddress;
    for (let i = 0; i < 100; i++) {
      try {
        await this.pushRecords(true);
        return;
      } catch {
        await delay(100);
      }
    }
    throw new Error(`the cluster DNS did not answer on ${this.dnsAddress}:8053; its log: ${await this.node.logs(info.Id)}`);
  }

  // ---- the API: apply, delete, read -------------------------------------------------------------------------

  /** kubectl apply: creates or updates every object; refuses the whole set if anything is not implemented or invalid. */
  apply(objects: readonly KubeObject[]): string[] {
    const admission = admit(objects);
    const problems = [...admission.refused];
    const namespaces = new Set([
      'default',
      ...[...this.objects.values(), ...objects].filter((o) => o.kind === 'Namespace').map((o) => o.metadata.name),
    ]);
    for (const o of admission.accepted) {
      const ns = o.metadata.namespace ?? 'default';
      if (o.kind !== 'Namespace' && !namespaces.has(ns)) problems.push(`${describe(o)}: namespaces "${ns}" not found`);
      problems.push(...this.validate(o));
    }
    if (problems.length > 0) throw new ApplyRefused(problems);
    const lines: string[] = [];
    for (const o of admission.accepted) {
      const key = keyOf(o);
      const before = this.objects.get(key);
      const kind = `${o.kind.toLowerCase()}${o.apiVersion.includes('/') ? `.${o.apiVersion.split('/')[0]}` : ''}`;
      if (!before) lines.push(`${kind}/${o.metadata.name} created`);
      else if (stable(before) === stable(o) && JSON.stringify(before) === JSON.stringify(o))
        lines.push(`${kind}/${o.metadata.name} unchanged`);
      else lines.push(`${kind}/${o.metadata.name} configured`);
      this.objects.set(key, structuredClone(o));
      if (o.kind === 'Service') this.allocate(o);
    }
    this.notEnforced = [...new Set([...this.notEnforced, ...admission.notEnforced])];
    this.stateDirty = true;
    void this.tick();
    return lines;
  }

  /** What the API server would reject: immutable fields changed, a selector that does not select the template. */
  private validate(o: KubeObject): string[] {
    const problems: string[] = [];
    const id = describe(o);
    const before = this.objects.get(keyOf(o));
    if (o.kind === 'Deployment' || o.kind === 'StatefulSet') {
      const labels = o.spec?.template?.metadata?.labels ?? {};
      if (!matches(o.spec?.selector, labels))
        problems.push(`${id}: spec.template.metadata.labels: Invalid value: \`selector\` does not match template \`labels\``);
      if (before && JSON.stringify(before.spec.selector) !== JSON.stringify(o.spec.selector))
        problems.push(`${id}: spec.selector: field is immutable`);
      if (o.kind === 'StatefulSet' && before) {
        for (const field of ['serviceName', 'volumeClaimTemplates', 'podManagementPolicy'])
          if (JSON.stringify(before.spec[field]) !== JSON.stringify(o.spec[field]))
            problems.push(
              `${id}: spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'template', 'updateStrategy' and 'minReadySeconds' are forbidden (${field} changed)`,
            );
      }
      const volumes = new Map(
        ((o.spec?.template?.spec?.volumes ?? []) as { name: string; secret?: unknown; configMap?: unknown; hostPath?: unknown }[]).map(
          (v) => [v.name, v],
        ),
      );
      for (const claim of (o.spec?.volumeClaimTemplates ?? []) as { metadata: { name: string } }[])
        volumes.set(claim.metadata.name, { name: claim.metadata.name });
      for (const [ci, c] of (
        (o.spec?.template?.spec?.containers ?? []) as { volumeMounts?: { name: string; subPath?: string }[] }[]
      ).entries())
        for (const [mi, m] of (c.volumeMounts ?? []).entries()) {
          const volume = volumes.get(m.name);
          if (!volume)
            problems.push(`${id}: spec.template.spec.containers[${ci}].volumeMounts[${mi}].name: Not found: ${JSON.stringify(m.name)}`);
          else if (m.subPath && !(volume.secret || volume.configMap || volume.hostPath))
            problems.push(
              `${id}: spec.template.spec.containers[${ci}].volumeMounts[${mi}].subPath on an emptyDir or claim is not implemented by this runtime (refused, not ignored)`,
            );
        }
    }
    if (o.kind === 'Pod' && before && stable(before.spec) !== stable(o.spec))
      problems.push(`${id}: spec: Forbidden: pod updates may not change fields other than the image (delete and recreate the pod)`);
    if (o.kind === 'Service' && before && (before.spec.clusterIP === 'None') !== (o.spec.clusterIP === 'None'))
      problems.push(`${id}: spec.clusterIP: field is immutable`);
    return problems;
  }

  private allocate(service: KubeObject): void {
    const key = keyOf(service);
    if (service.spec.clusterIP === 'None') return;
    if (!this.clusterIPs.has(key)) {
      const h = createHash('sha256').update(key).digest();
      this.clusterIPs.set(key, `10.96.${h[0]! % 255}.${(h[1]! % 250) + 2}`);
    }
  }

  /** kubectl delete: a Deployment or StatefulSet takes its pods with it (claims stay); resolves when they are gone. */
  async delete(kind: string, namespace: string, name: string): Promise<void> {
    const key = `${kind}/${namespace}/${name}`;
    const object = this.objects.get(key);
    if (!object) throw new Error(`${kind.toLowerCase()} "${name}" not found in namespace ${namespace}`);
    this.objects.delete(key);
    if (kind === 'Deployment') this.deployments.forget(namespace, name);
    const owned = (p: Pod) =>
      (kind === 'Pod' && p.name === name) ||
      (kind === 'StatefulSet' && p.owner?.kind === 'StatefulSet' && p.owner.name === name) ||
      (kind === 'Deployment' &&
        p.owner?.kind === 'ReplicaSet' &&
        p.owner.name.startsWith(`${name}-`) &&
        p.labels['pod-template-hash'] !== undefined);
    await Promise.all(
      this.podsIn(namespace)
        .filter(owned)
        .map((p) => this.deletePod(namespace, p.name)),
    );
    this.stateDirty = true;
  }

  /** Every pod, or those of a namespace (and selector), deleting ones included. */
  pods(namespace?: string, selector?: Record<string, string>): Pod[] {
    return [...this.workers.values()]
      .map((w) => w.pod)
      .filter((p) => (namespace === undefined || p.namespace === namespace) && (!selector || matches(selector, p.labels)));
  }

  private podsIn(namespace: string): Pod[] {
    return this.pods(namespace);
  }

  object(kind: string, namespace: string, name: string): KubeObject | undefined {
    return this.objects.get(`${kind}/${namespace}/${name}`);
  }

  list(kind: string, namespace?: string): KubeObject[] {
    return [...this.objects.values()].filter(
      (o) => o.kind === kind && (namespace === undefined || (o.metadata.namespace ?? 'default') === namespace),
    );
  }

  private worker(namespace: string, pod: string): PodWorker {
    const worker = [...this.workers.values()].find((w) => w.pod.namespace === namespace && w.pod.name === pod);
    if (!worker) throw new Error(`pod "${pod}" not found in namespace ${namespace}`);
    return worker;
  }

  /** kubectl delete pod: graceful, as the kubelet stops it; the owner makes a new one. */
  async deletePod(namespace: string, pod: string, graceSeconds?: number): Promise<void> {
    const worker = this.worker(namespace, pod);
    await worker.delete(graceSeconds);
    this.workers.delete(worker.pod.uid);
    this.stateDirty = true;
  }

  /** Sends a signal to one container of a pod from outside (a crash, an OOM kill, `kill -9`): the kubelet restarts it. */
  async signalContainer(namespace: string, pod: string, container: string, signal = 'SIGKILL'): Promise<void> {
    const id = this.worker(namespace, pod).containerId(container);
    if (!id) throw new Error(`${namespace}/${pod}: container ${container} is not running`);
    await this.node.signal(id, signal);
  }

  exec(namespace: string, pod: string, container: string, command: string[], timeoutMs?: number) {
    return this.worker(namespace, pod).exec(container, command, timeoutMs);
  }

  containerId(namespace: string, pod: string, container: string): string | undefined {
    return this.worker(namespace, pod).containerId(container);
  }

  /** A Service's endpoints: "ip:targetPort" of each ready pod it selects (of its first port, or the named one). */
  endpoints(namespace: string, service: string, portName?: string): string[] {
    const svc = this.objects.get(`Service/${namespace}/${service}`);
    if (!svc) return [];
    const port = ((svc.spec.ports ?? []) as { name?: string; port: number; targetPort?: string | number }[]).find(
      (p) => portName === undefined || p.name === portName,
    );
    if (!port) return [];
    return this.endpointPods(svc).flatMap((p) => {
      const target = resolvePort(port.targetPort ?? port.port, p.spec.containers);
      return p.ip && target !== undefined ? [`${p.ip}:${target}`] : [];
    });
  }

  private endpointPods(svc: KubeObject): Pod[] {
    if (!svc.spec.selector) return [];
    const ns = svc.metadata.namespace ?? 'default';
    return this.podsIn(ns).filter(
      (p) => !p.deleting && p.ip && matches(svc.spec.selector, p.labels) && (p.ready || svc.spec.publishNotReadyAddresses === true),
    );
  }

  /** http://127.0.0.1:<nodePort> of a NodePort Service. */
  nodePortUrl(namespace: string, service: string): string {
    const entry = [...this.nodePorts.entries()].find(([k]) => k.startsWith(`${namespace}/${service}/`));
    if (!entry) throw new Error(`Service ${namespace}/${service} has no NodePort here`);
    return `http://127.0.0.1:${entry[1].port}`;
  }

  events(): ClusterEvent[] {
    return [...this.recent];
  }

  /** Resolves when every Deployment and StatefulSet (of a namespace) has rolled out; rejects with what is missing. */
  async waitForRollouts(timeoutMs = 120_000, namespace?: string): Promise<void> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const snapshot = this.snapshot();
      const pending = [...snapshot.deployments, ...snapshot.statefulSets].filter(
        (w) => !w.done && (namespace === undefined || w.namespace === namespace),
      );
      if (pending.length === 0) return;
      if (Date.now() > until) {
        const pods = snapshot.pods
          .filter((p) => !p.ready && (namespace === undefined || p.namespace === namespace))
          .map((p) => `${p.name}: ${podStatus(p)}`);
        const warnings = snapshot.events
          .filter((e) => e.type === 'Warning' && (namespace === undefined || e.namespace === namespace))
          .slice(-8)
          .map((e) => `${e.object}: ${e.reason}: ${e.message}`);
        throw new Error(
          `not rolled out within ${timeoutMs / 1000} s:\n  ${pending.map((w) => w.rollout).join('\n  ')}\npods not ready:\n  ${pods.join('\n  ') || '(none)'}\nlast warnings:\n  ${warnings.join('\n  ') || '(none)'}`,
        );
      }
      await delay(200);
    }
  }

  // ---- the control loop -------------------------------------------------------------------------------------

  private readonly autoscalingHost = {
    list: (kind: string) => this.list(kind),
    object: (kind: string, ns: string, name: string) => this.object(kind, ns, name),
    pods: (ns: string) => this.podsIn(ns),
    event: (object: string, ns: string, type: EventType, reason: string, message: string) => this.event(object, ns, type, reason, message),
    changed: () => void (this.stateDirty = true),
  };

  private host: ControllerHost = {
    pods: (ns) => this.podsIn(ns),
    createPod: (request) => this.createPod(request),
    deletePod: (pod, reason) => {
      const worker = this.workers.get(pod.uid);
      if (!worker || pod.deleting) return;
      this.event(`pod/${pod.name}`, pod.namespace, 'Normal', 'Killing', reason);
      void worker.delete().then(() => {
        this.workers.delete(pod.uid);
        this.stateDirty = true;
      });
    },
    event: (object, ns, type, reason, message) => this.event(object, ns, type, reason, message),
  };

  private createPod(request: Parameters<ControllerHost['createPod']>[0]): void {
    const template: PodTemplate = structuredClone(request.template);
    const spec = template.spec;
    const claims = request.claims ?? {};
    for (const [volume, claim] of Object.entries(claims))
      (spec.volumes ??= []).push({ name: volume, persistentVolumeClaim: { claimName: claim } });
    if (request.hostname) spec.hostname = request.hostname;
    if (request.subdomain) spec.subdomain = request.subdomain;
    const pod: Pod = {
      namespace: request.namespace,
      name: request.name,
      uid: randomUUID(),
      labels: request.labels,
      annotations: template.metadata?.annotations ?? {},
      owner: request.owner,
      spec,
      createdAt: Date.now(),
      phase: 'Pending',
      ready: false,
      deleting: false,
      claims,
      initContainers: [],
      containers: [],
    };
    const placed = nodeFor(this.options.nodes ?? [], spec.nodeSelector);
    if (this.options.nodes?.length && spec.nodeSelector && !placed)
      this.event(
        `pod/${pod.name}`,
        pod.namespace,
        'Warning',
        'NodeSelectorUnmatched',
        `no declared node has the labels ${JSON.stringify(spec.nodeSelector)}: runs on every CPU`,
      );
    const worker = new PodWorker(pod, {
      node: this.node,
      cpuset: placed?.cpus,
      pauseImage: this.nodeImage,
      mapImage: (ref) => this.imageMap[ref] ?? ref,
      dns: () => this.dnsAddress,
      objects: (ns) => this.namespaceObjects(ns),
      stateDir: this.stateDir,
      backoffInitialMs: this.options.backoffInitialMs ?? 10_000,
      backoffMaxMs: this.options.backoffMaxMs ?? 300_000,
      event: (object, ns, type, reason, message) => this.event(object, ns, type, reason, message),
      changed: () => {
        this.stateDirty = true;
        this.emit('change');
      },
    });
    this.workers.set(pod.uid, worker);
    worker.start();
  }

  private namespaceObjects(ns: string): NamespaceObjects {
    return {
      secret: (name) => this.objects.get(`Secret/${ns}/${name}`),
      configMap: (name) => this.objects.get(`ConfigMap/${ns}/${name}`),
      linkedServices: () =>
        this.list('Service', ns)
          .filter((s) => s.spec.clusterIP !== 'None')
          .map((s) => ({ name: s.metadata.name, clusterIP: this.clusterIPs.get(keyOf(s))!, ports: s.spec.ports ?? [] })),
    };
  }

  private async tick(): Promise<void> {
    if (this.ticking || this.stopping) return;
    this.ticking = true;
    try {
      // The HPAs first: a scale they set is acted on by the Deployment controller in the same tick.
      this.autoscalers.tick(this.autoscalingHost);
      for (const d of this.list('Deployment')) this.deployments.sync(d, this.host);
      for (const s of this.list('StatefulSet')) this.statefulSets.sync(s, this.host);
      for (const p of this.list('Pod')) {
        const ns = p.metadata.namespace ?? 'default';
        if (!this.podsIn(ns).some((x) => x.name === p.metadata.name && !x.owner))
          this.createPod({
            namespace: ns,
            name: p.metadata.name,
            template: { metadata: p.metadata, spec: p.spec },
            owner: undefined as never,
            labels: p.metadata.labels ?? {},
          });
      }
      await this.pushRecords(false);
      await this.syncNodePorts();
      await this.reportDnsMisses();
      // At most once a second: `status` reads it, nothing waits on it.
      if (this.stateDirty && Date.now() - this.lastWrite > 1_000) this.writeState();
    } catch (error) {
      this.log(`control loop: ${(error as Error).message}`);
    } finally {
      this.ticking = false;
    }
  }

  /** Every cluster DNS name and the ready addresses behind it. */
  private records(): Record<string, string[]> {
    const records: Record<string, string[]> = {};
    for (const svc of this.list('Service')) {
      const ns = svc.metadata.namespace ?? 'default';
      const pods = this.endpointPods(svc);
      records[`${svc.metadata.name}.${ns}.svc.cluster.local`] = pods.map((p) => p.ip!);
      if (svc.spec.clusterIP === 'None')
        for (const p of pods)
          if (p.spec.subdomain === svc.metadata.name && p.spec.hostname)
            records[`${p.spec.hostname}.${svc.metadata.name}.${ns}.svc.cluster.local`] = [p.ip!];
    }
    return records;
  }

  private async pushRecords(force: boolean): Promise<void> {
    const body = JSON.stringify(this.records());
    if (!force && body === this.lastRecords) return;
    const response = await fetch(`http://${this.dnsAddress}:8053/records`, { method: 'POST', body, signal: AbortSignal.timeout(2_000) });
    if (!response.ok) throw new Error(`cluster DNS refused the records: ${response.status}`);
    this.lastRecords = body;
  }

  private lastMisses = 0;
  /** Names that asked for a Service that does not exist, as events on the pod that asked (a cross-namespace mistake). */
  private async reportDnsMisses(): Promise<void> {
    if (Date.now() - this.lastMisses < 2_000) return;
    this.lastMisses = Date.now();
    const misses = (await (await fetch(`http://${this.dnsAddress}:8053/misses`, { signal: AbortSignal.timeout(2_000) })).json()) as {
      name: string;
      from: string;
      count: number;
    }[];
    for (const miss of misses) {
      const pod = this.pods().find((p) => p.ip === miss.from);
      const [svc, ns] = miss.name.split('.');
      const elsewhere = this.list('Service')
        .filter((s) => s.metadata.name === svc && (s.metadata.namespace ?? 'default') !== ns)
        .map((s) => s.metadata.namespace ?? 'default');
      const hint = elsewhere.length
        ? `; a Service "${svc}" exists in namespace ${elsewhere.join(', ')}: name it ${svc}.${elsewhere[0]}, or move one of them`
        : '';
      this.event(
        pod ? `pod/${pod.name}` : `ip/${miss.from}`,
        pod?.namespace ?? 'default',
        'Warning',
        'DNSNameNotFound',
        `no Service "${svc}" in namespace "${ns}" (${miss.name} asked ${miss.count} time(s)${pod && pod.namespace !== ns ? `; the pod is in namespace "${pod.namespace}"` : ''})${hint}`,
      );
    }
  }

  private async syncNodePorts(): Promise<void> {
    const wanted = new Set<string>();
    for (const svc of this.list('Service').filter((s) => s.spec.type === 'NodePort')) {
      const ns = svc.metadata.namespace ?? 'default';
      for (const port of (svc.spec.ports ?? []) as { name?: string; port: number; nodePort?: number }[]) {
        const key = `${ns}/${svc.metadata.name}/${port.name ?? port.port}`;
        wanted.add(key);
        if (this.nodePorts.has(key)) continue;
        const number =
          port.nodePort ?? 30_000 + (createHash('sha256').update(`${this.options.name}/${key}`).digest().readUInt16BE(0) % 2_768);
        const proxy = new NodePort(number, () => this.endpoints(ns, svc.metadata.name, port.name));
        await proxy.listen();
        this.nodePorts.set(key, proxy);
        this.event(`service/${svc.metadata.name}`, ns, 'Normal', 'NodePort', `listening on 127.0.0.1:${number} → port ${port.port}`);
      }
    }
    for (const [key, proxy] of this.nodePorts)
      if (!wanted.has(key)) {
        await proxy.close();
        this.nodePorts.delete(key);
      }
  }

  event(object: string, namespace: string, type: EventType, reason: string, message: string): void {
    const now = new Date().toISOString();
    const same = this.recent.find((e) => e.object === object && e.reason === reason && e.message === message);
    if (same) {
      same.count += 1;
      same.lastAt = now;
    } else {
      this.recent.push({ firstAt: now, lastAt: now, count: 1, namespace, object, type, reason, message });
      if (this.recent.length > 300) this.recent.shift();
      this.log(`${namespace} ${object}: ${reason}: ${message}`);
    }
    this.stateDirty = true;
    this.emit('event', { object, namespace, type, reason, message });
  }

  snapshot(): ClusterSnapshot {
    return {
      name: this.options.name,
      pid: process.pid,
      startedAt: this.startedAt,
      imageMap: this.imageMap,
      notEnforced: this.notEnforced,
      pods: this.pods().map((p) => structuredClone(p)),
      deployments: this.list('Deployment').map((d) => {
        const s = this.deployments.status(d, this.host);
        return { ...workloadRow(d, s), updated: s.updated, available: s.available };
      }),
      statefulSets: this.list('StatefulSet').map((s) => workloadRow(s, this.statefulSets.status(s, this.host))),
      services: this.list('Service').map((s) => this.serviceView(s)),
      autoscalers: this.autoscalers.status(),
      events: this.events(),
    };
  }

  private serviceView(s: KubeObject): ServiceView {
    const ns = s.metadata.namespace ?? 'default';
    const pods = this.endpointPods(s);
    const ports = ((s.spec.ports ?? []) as { name?: string; port: number; targetPort?: string | number; nodePort?: number }[]).map((p) => ({
      name: p.name,
      port: p.port,
      targetPort: pods[0]
        ? resolvePort(p.targetPort ?? p.port, pods[0].spec.containers)
        : typeof p.targetPort === 'number'
          ? p.targetPort
          : undefined,
      nodePort: this.nodePorts.get(`${ns}/${s.metadata.name}/${p.name ?? p.port}`)?.port,
    }));
    return {
      namespace: ns,
      name: s.metadata.name,
      type: s.spec.type ?? 'ClusterIP',
      clusterIP: s.spec.clusterIP === 'None' ? 'None' : (this.clusterIPs.get(keyOf(s)) ?? ''),
      ports,
      endpoints: this.endpoints(ns, s.metadata.name),
    };
  }

  /** The state `status` reads, written on change (atomically: a reader never sees half a file). */
  writeState(): void {
    this.stateDirty = false;
    this.lastWrite = Date.now();
    const file = join(this.stateDir, 'state.json');
    writeFileSync(`${file}.tmp`, JSON.stringify(this.snapshot()));
    renameSync(`${file}.tmp`, file);
  }

  /** Stops every pod gracefully (all at once, each with its grace period), then the node; claims stay unless asked. */
  async stop(options: { removeVolumes?: boolean } = {}): Promise<void> {
    this.stopping = true;
    clearInterval(this.timer);
    this.objects.clear();
    await Promise.all([...this.workers.values()].map((w) => w.delete().catch(() => undefined)));
    this.workers.clear();
    for (const proxy of this.nodePorts.values()) await proxy.close();
    this.nodePorts.clear();
    this.node.stopWatching();
    await this.node.removeEverything(options.removeVolumes === true);
    this.writeState();
  }
}

/** What `kubectl get pods` shows in STATUS. */
export function podStatus(p: Pod): string {
  if (p.deleting) return 'Terminating';
  const init = p.initContainers.find((c) => !('terminated' in c.state && c.state.terminated.exitCode === 0));
  if (init) {
    const waiting = 'waiting' in init.state ? init.state.waiting.reason : undefined;
    return waiting && waiting !== 'ContainerCreating' && waiting !== 'PodInitializing'
      ? `Init:${waiting}`
      : `Init:${p.initContainers.indexOf(init)}/${p.initContainers.length}`;
  }
  for (const c of p.containers) {
    if ('waiting' in c.state) return c.state.waiting.reason;
    if ('terminated' in c.state && (p.spec.restartPolicy ?? 'Always') === 'Always') return c.state.terminated.reason;
  }
  if (p.phase === 'Succeeded') return 'Completed';
  if (p.phase === 'Failed') return 'Error';
  return p.phase === 'Running' ? 'Running' : 'Pending';
}
