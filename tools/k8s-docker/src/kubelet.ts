import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { DockerNode, ImageFacts, Mount } from './docker-node.js';
import { POD_LABEL, CONTAINER_LABEL } from './docker-node.js';
import { bytes, type Container, type PodSpec, type Probe, type Volume } from './objects.js';
import {
  ContainerConfigError,
  containerEnv,
  containerResources,
  containerUser,
  expand,
  objectData,
  type NamespaceObjects,
  type PodIdentity,
} from './pod-plan.js';
import { httpGet, probeTiming, runProbe, type ProbeResult } from './probes.js';

export type ContainerState =
  | { waiting: { reason: string; message?: string } }
  | { running: { startedAt: string } }
  | { terminated: { exitCode: number; reason: string; message?: string; finishedAt: string } };

export interface ContainerStatus {
  name: string;
  image: string;
  ready: boolean;
  /** The startup probe passed (or there is none) since the container last started. */
  started: boolean;
  restartCount: number;
  state: ContainerState;
  lastState?: ContainerState;
  containerId?: string;
}

export type PodPhase = 'Pending' | 'Running' | 'Succeeded' | 'Failed';

/** A pod as the runtime knows it: its spec and the status the kubelet reports. */
export interface Pod extends Pick<PodIdentity, 'namespace' | 'name' | 'uid' | 'labels' | 'annotations'> {
  owner?: { kind: 'ReplicaSet' | 'StatefulSet'; name: string };
  spec: PodSpec;
  createdAt: number;
  phase: PodPhase;
  ip?: string;
  ready: boolean;
  /** Since when the pod has been ready (minReadySeconds counts from here). */
  readySince?: number;
  deleting: boolean;
  /** The claims a StatefulSet pod mounts: volume name → claim name. */
  claims: Record<string, string>;
  initContainers: ContainerStatus[];
  containers: ContainerStatus[];
}

export type EventType = 'Normal' | 'Warning';

export interface KubeletDeps {
  node: DockerNode;
  /** The sandbox image: any local image with `sleep` (the base image every Strata image is built from). */
  pauseImage: string;
  /** An image reference as the pod names it → the one that runs here (the explicit, printed mapping). */
  mapImage(reference: string): string;
  /** Cluster DNS (the address every pod's resolver asks). */
  dns(): string;
  objects(namespace: string): NamespaceObjects;
  stateDir: string;
  /** The host CPUs of the node the pod was placed on, where the run declares nodes (else undefined: every CPU). */
  cpuset?: string;
  /** The container back-off of the kubelet: 10 s, doubling to 300 s, reset after 10 minutes without a crash. */
  backoffInitialMs: number;
  backoffMaxMs: number;
  event(object: string, namespace: string, type: EventType, reason: string, message: string): void;
  changed(): void;
}

/** The kubelet's per-container restart back-off (flowcontrol.Backoff as the kubelet uses it). */
export class Backoff {
  private entry?: { backoffMs: number; lastUpdate: number };
  constructor(
    private readonly initialMs: number,
    private readonly maxMs: number,
  ) {}
  /** How long to wait before restarting a container that finished at `finishedAt` (0: now); records the restart. */
  next(finishedAt: number, now = Date.now()): number {
    const expired = !this.entry || finishedAt - this.entry.lastUpdate > 2 * this.maxMs;
    const wait = !expired && this.entry ? Math.max(0, this.entry.backoffMs - (now - finishedAt)) : 0;
    return wait;
  }
  record(finishedAt: number, now = Date.now()): void {
    if (!this.entry || finishedAt - this.entry.lastUpdate > 2 * this.maxMs) this.entry = { backoffMs: this.initialMs, lastUpdate: now };
    else this.entry = { backoffMs: Math.min(this.entry.backoffMs * 2, this.maxMs), lastUpdate: now };
  }
}

interface Running {
  id: string;
  startedAt: number;
  /** Stops this container's probe loops. */
  abort: AbortController;
  /** Set while the kubelet itself stops the container (liveness, deletion): its exit is expected. */
  killing?: string;
}

const short = (uid: string) => uid.slice(0, 8);

/**
 * One pod on this node: what the kubelet does for it. Sets up the sandbox (IP, hostname, DNS) and volumes, runs the
 * init containers in order and then the containers, probes them from outside (startup gates liveness and readiness;
 * liveness failures restart; readiness decides endpoints), restarts exited containers per `restartPolicy` with the
 * kubelet's back-off (CrashLoopBackOff), and on deletion runs preStop, SIGTERM, the grace period, SIGKILL.
 */
export class PodWorker {
  private sandbox?: { id: string; ip: string };
  private readonly running = new Map<string, Running>();
  private readonly previous = new Map<string, string>();
  private readonly backoffs = new Map<string, Backoff>();
  private readonly images = new Map<string, ImageFacts>();
  private stopped = false;
  private syncing?: Promise<void>;
  private again = false;
  private timer?: NodeJS.Timeout;
  private readonly volumeSources = new Map<string, { type: 'volume' | 'bind'; source: string; file?: boolean }>();
  private readonly removedVolumes: string[] = [];

  constructor(
    readonly pod: Pod,
    private readonly deps: KubeletDeps,
  ) {
    const status = (c: Container): ContainerStatus => ({
      name: c.name,
      image: c.image,
      ready: false,
      started: false,
      restartCount: 0,
      state: { waiting: { reason: 'ContainerCreating' } },
    });
    pod.initContainers = (pod.spec.initContainers ?? []).map(status);
    pod.containers = pod.spec.containers.map(status);
  }

  get ref(): string {
    return `pod/${this.pod.name}`;
  }

  private event(type: EventType, reason: string, message: string) {
    this.deps.event(this.ref, this.pod.namespace, type, reason, message);
  }

  /** Containers of this pod by Docker id, for the engine's exit events. */
  containerIds(): string[] {
    return [...this.running.values()].map((r) => r.id);
  }

  start(): void {
    this.timer = setInterval(() => this.sync(), 500);
    this.timer.unref();
    this.sync();
  }

  /** Runs one pass of this pod's loop soon (passes never overlap). */
  sync(): void {
    if (this.syncing) {
      this.again = true;
      return;
    }
    this.syncing = this.pass()
      .catch((error: Error) => this.event('Warning', 'FailedSync', error.message))
      .finally(() => {
        this.syncing = undefined;
        if (this.again && !this.stopped) {
          this.again = false;
          this.sync();
        }
      });
  }

  /** The engine reports that a container of this pod exited. */
  async onExit(containerId: string): Promise<void> {
    const entry = [...this.running.entries()].find(([, r]) => r.id === containerId);
    if (!entry) return;
    const [name, run] = entry;
    this.running.delete(name);
    run.abort.abort();
    const exit = await this.deps.node.exitOf(containerId);
    const status = this.status(name);
    const reason = exit?.oomKilled ? 'OOMKilled' : exit?.exitCode === 0 ? 'Completed' : 'Error';
    const finishedAt = exit?.finishedAt && !exit.finishedAt.startsWith('0001') ? exit.finishedAt : new Date().toISOString();
    let message: string | undefined;
    if (reason !== 'Completed' && !run.killing) {
      // The kubelet's FallbackToLogsOnError takes the log's tail as the message; stack frames and Node's version line
      // are left out here, so that the line that says what went wrong is what a person reads.
      const tail = (await this.deps.node.logs(containerId, 30))
        .split('\n')
        .filter((line) => line.trim() && !/^\s+at /.test(line) && !/^Node\.js v\d/.test(line));
      message = tail.slice(-3).join(' | ').replace(/\s+/g, ' ').trim() || undefined;
    }
    status.lastState = undefined;
    status.state = { terminated: { exitCode: exit?.exitCode ?? -1, reason, message, finishedAt } };
    status.ready = false;
    status.started = false;
    this.previous.set(name, containerId);
    if (!this.pod.deleting && !this.stopped) {
      const how = run.killing ?? `exited with code ${exit?.exitCode} (${reason})${message ? `: ${message}` : ''}`;
      this.event(
        reason === 'Completed' ? 'Normal' : 'Warning',
        reason === 'Completed' ? 'Completed' : 'BackOff',
        `container ${name} ${how}`,
      );
    }
    this.refresh();
    this.sync();
  }

  private status(name: string): ContainerStatus {
    return [...this.pod.initContainers, ...this.pod.containers].find((c) => c.name === name)!;
  }

  private spec(name: string): Container {
    return [...(this.pod.spec.initContainers ?? []), ...this.pod.spec.containers].find((c) => c.name === name)!;
  }

  private async pass(): Promise<void> {
    if (this.stopped || this.pod.deleting) return;
    if (!this.sandbox) {
      if (!(await this.setUp())) return;
    }
    // Init containers, one at a time, each to success.
    for (const init of this.pod.spec.initContainers ?? []) {
      const status = this.status(init.name);
      if ('terminated' in status.state && status.state.terminated.exitCode === 0) continue;
      if (this.running.has(init.name)) return;
      if (!(await this.maybeStart(init, status))) return;
      return;
    }
    for (const container of this.pod.spec.containers) {
      if (this.running.has(container.name)) continue;
      await this.maybeStart(container, this.status(container.name));
    }
    this.refresh();
  }

  /** Starts a container that is not running, if its restart policy and back-off allow it now. */
  private async maybeStart(container: Container, status: ContainerStatus): Promise<boolean> {
    const policy = this.pod.spec.restartPolicy ?? 'Always';
    const init = (this.pod.spec.initContainers ?? []).includes(container);
    if ('terminated' in status.state) {
      const exit = status.state.terminated;
      const restart = policy === 'Always' ? !init || exit.exitCode !== 0 : policy === 'OnFailure' && exit.exitCode !== 0;
      if (!restart) return false;
      const backoff = this.backoffs.get(container.name) ?? new Backoff(this.deps.backoffInitialMs, this.deps.backoffMaxMs);
      this.backoffs.set(container.name, backoff);
      const finished = Date.parse(exit.finishedAt);
      const wait = backoff.next(finished);
      if (wait > 0) {
        {
          status.lastState = status.state;
          const seconds = Math.round(wait / 1000);
          status.state = {
            waiting: {
              reason: 'CrashLoopBackOff',
              message: `back-off ${seconds}s restarting failed container=${container.name} pod=${this.pod.name}`,
            },
          };
          this.event('Warning', 'BackOff', `Back-off restarting failed container ${container.name} in pod ${this.pod.name}`);
          this.deps.changed();
        }
        setTimeout(() => this.sync(), wait + 20).unref();
        return false;
      }
      backoff.record(finished);
      status.lastState = status.state;
      status.restartCount += 1;
    } else if ('waiting' in status.state && status.state.waiting.reason === 'CrashLoopBackOff') {
      const backoff = this.backoffs.get(container.name);
      const last = status.lastState && 'terminated' in status.lastState ? Date.parse(status.lastState.terminated.finishedAt) : 0;
      if (backoff && backoff.next(last) > 0) return false;
      backoff?.record(last);
      status.restartCount += 1;
    }
    return this.startContainer(container, status);
  }

  /** The image that runs for a container, or a waiting reason when it cannot be had. */
  private async image(container: Container, status: ContainerStatus): Promise<{ ref: string; facts: ImageFacts } | undefined> {
    const ref = this.deps.mapImage(container.image);
    const known = this.images.get(ref);
    if (known) return { ref, facts: known };
    let facts = await this.deps.node.image(ref);
    const policy = container.imagePullPolicy ?? (/:latest$|^[^:]+$/.test(container.image) ? 'Always' : 'IfNotPresent');
    const mapped = ref === container.image ? '' : ` (mapped from ${container.image})`;
    if (!facts && policy === 'Never') {
      this.waiting(status, 'ErrImageNeverPull', `Container image "${ref}"${mapped} is not present with pull policy of Never`);
      return undefined;
    }
    if (!facts || policy === 'Always') {
      try {
        this.event('Normal', 'Pulling', `Pulling image "${ref}"`);
        await this.deps.node.pull(ref);
        facts = await this.deps.node.image(ref);
      } catch (error) {
        this.waiting(
          status,
          'ErrImagePull',
          `Failed to pull image "${ref}"${mapped}: ${(error as Error).message.split('\n')[0]}; build it here, or map it to a local image (--image-map ${container.image}=<local image>)`,
        );
        return undefined;
      }
    }
    if (!facts) return undefined;
    this.images.set(ref, facts);
    return { ref, facts };
  }

  private waiting(status: ContainerStatus, reason: string, message: string): void {
    const was = 'waiting' in status.state ? status.state.waiting : undefined;
    status.state = { waiting: { reason, message } };
    if (was?.reason !== reason || was.message !== message) {
      this.event('Warning', reason === 'CreateContainerConfigError' ? 'Failed' : reason, message);
      this.deps.changed();
    }
  }

  /** Sandbox, IP, hostname, DNS settings and volumes: what exists before any container starts. */
  private async setUp(): Promise<boolean> {
    const spec = this.pod.spec;
    // Every image first: a pod whose images cannot be had waits with the reason, before anything is created.
    for (const c of [...(spec.initContainers ?? []), ...spec.containers]) {
      if (!(await this.image(c, this.status(c.name)))) {
        setTimeout(() => this.sync(), 5_000).unref();
        return false;
      }
    }
    const ns = this.pod.namespace;
    const hostname = spec.hostname ?? this.pod.name;
    const volumes: { source: string; type: 'volume' | 'bind' }[] = [];
    const prepare: string[] = [];
    const fsGroup = spec.securityContext?.fsGroup;
    for (const volume of spec.volumes ?? []) {
      const source = await this.volumeSource(volume);
      if (!source) return false;
      this.volumeSources.set(volume.name, source);
      if (source.type === 'volume') {
        const at = `/strata-volumes/${volumes.length}`;
        volumes.push({ source: source.source, type: 'volume' });
        // emptyDir is world-writable (0777) as the kubelet makes it; with fsGroup the group owns it and new files inherit it.
        prepare.push(fsGroup !== undefined ? `chgrp ${fsGroup} ${at} && chmod 2777 ${at}` : `chmod 0777 ${at}`);
      }
    }
    const sandbox = await this.deps.node.createSandbox({
      name: `k8s_POD_${this.pod.name}_${ns}_${short(this.pod.uid)}_${randomBytes(2).toString('hex')}`,
      image: this.deps.mapImage(this.deps.pauseImage),
      hostname,
      domainname: spec.subdomain ? `${spec.subdomain}.${ns}.svc.cluster.local` : undefined,
      dns: this.deps.dns(),
      dnsSearch: [`${ns}.svc.cluster.local`, 'svc.cluster.local', 'cluster.local'],
      labels: { [POD_LABEL]: `${ns}/${this.pod.name}`, [CONTAINER_LABEL]: 'POD' },
      volumes,
    });
    this.sandbox = sandbox;
    if (prepare.length > 0) {
      const result = await this.deps.node.exec(sandbox.id, ['sh', '-c', prepare.join(' && ')], 30_000, '0');
      if (result.exitCode !== 0) throw new Error(`preparing the volumes of ${this.pod.name} failed: ${result.output}`);
    }
    this.pod.ip = sandbox.ip;
    this.event('Normal', 'Scheduled', `Successfully assigned ${ns}/${this.pod.name} to docker (${sandbox.ip})`);
    this.deps.changed();
    return true;
  }

  /** Where a volume comes from: a Docker volume (emptyDir, claims), or files on this host (Secret, ConfigMap, hostPath). */
  private async volumeSource(volume: Volume): Promise<{ type: 'volume' | 'bind'; source: string; file?: boolean } | undefined> {
    const cluster = this.deps.node.cluster;
    if (volume.emptyDir) {
      const name = `k8sd-${cluster}-${short(this.pod.uid)}-${volume.name}`;
      const size = volume.emptyDir.medium === 'Memory' ? (bytes(volume.emptyDir.sizeLimit) ?? 64 * 2 ** 20) : undefined;
      await this.deps.node.createVolume(name, { [POD_LABEL]: `${this.pod.namespace}/${this.pod.name}` }, size);
      this.removedVolumes.push(name);
      return { type: 'volume', source: name };
    }
    if (volume.persistentVolumeClaim) {
      const claim = volume.persistentVolumeClaim.claimName;
      if (!Object.values(this.pod.claims).includes(claim)) {
        this.waiting(this.pod.containers[0]!, 'ContainerCreating', `persistentvolumeclaim "${claim}" not found`);
        return undefined;
      }
      const name = claimVolume(cluster, this.pod.namespace, claim);
      await this.deps.node.createVolume(name, { 'io.strata.k8s-docker.claim': `${this.pod.namespace}/${claim}` });
      return { type: 'volume', source: name };
    }
    if (volume.secret || volume.configMap) {
      const dir = this.writeProjected(volume);
      return dir ? { type: 'bind', source: dir } : undefined;
    }
    if (volume.hostPath) {
      const { path, type } = volume.hostPath;
      if (type === 'DirectoryOrCreate') mkdirSync(path, { recursive: true });
      const stat = existsSync(path) ? statSync(path) : undefined;
      if ((type === 'Directory' && !stat?.isDirectory()) || (type === 'File' && !stat?.isFile())) {
        this.waiting(this.pod.containers[0]!, 'ContainerCreating', `hostPath type check failed: ${path} is not a ${type}`);
        return undefined;
      }
      return { type: 'bind', source: path, file: stat?.isFile() };
    }
    return undefined;
  }

  /** A Secret or ConfigMap volume as files (mode 0644 unless declared), written where the pod's mount binds them. */
  private writeProjected(volume: Volume): string | undefined {
    const ref = volume.secret
      ? { kind: 'Secret', name: volume.secret.secretName, v: volume.secret }
      : { kind: 'ConfigMap', name: volume.configMap!.name, v: volume.configMap! };
    const objects = this.deps.objects(this.pod.namespace);
    const object = ref.kind === 'Secret' ? objects.secret(ref.name) : objects.configMap(ref.name);
    const dir = join(this.deps.stateDir, 'pods', this.pod.uid, volume.name);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    if (!object) {
      if (ref.v.optional) return dir;
      this.waiting(
        this.pod.containers[0]!,
        'ContainerCreating',
        `MountVolume.SetUp failed for volume "${volume.name}": ${ref.kind.toLowerCase()} "${ref.name}" not found`,
      );
      return undefined;
    }
    const data = objectData(object);
    const items = ref.v.items ?? Object.keys(data).map((key) => ({ key, path: key, mode: undefined }));
    for (const item of items) {
      if (!(item.key in data)) {
        this.waiting(this.pod.containers[0]!, 'ContainerCreating', `configmap/secret ${ref.name} has no key ${item.key}`);
        return undefined;
      }
      const file = join(dir, item.path);
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, data[item.key]!, { mode: item.mode ?? ref.v.defaultMode ?? 0o644 });
    }
    return dir;
  }

  private mounts(container: Container): Mount[] {
    return (container.volumeMounts ?? []).map((m) => {
      const source = this.volumeSources.get(m.name);
      if (!source) throw new ContainerConfigError(`volumeMount ${m.name} names no volume of the pod`);
      const sourcePath = source.type === 'bind' && m.subPath ? join(source.source, m.subPath) : source.source;
      const projected = (this.pod.spec.volumes ?? []).some((v) => v.name === m.name && (v.secret || v.configMap));
      return { type: source.type, source: sourcePath, target: m.mountPath, readOnly: m.readOnly === true || projected };
    });
  }

  private async startContainer(container: Container, status: ContainerStatus): Promise<boolean> {
    const image = await this.image(container, status);
    if (!image || !this.sandbox) return false;
    const spec = this.pod.spec;
    let env: Record<string, string>;
    let user: string | undefined;
    let mounts: Mount[];
    try {
      env = containerEnv(container, spec, this.identity(), this.deps.objects(this.pod.namespace));
      user = containerUser(container, spec, image.facts, this.pod.name);
      mounts = this.mounts(container);
    } catch (error) {
      if (!(error instanceof ContainerConfigError)) throw error;
      this.waiting(status, 'CreateContainerConfigError', error.message);
      setTimeout(() => this.sync(), 5_000).unref();
      return false;
    }
    const sc = container.securityContext ?? {};
    const seccomp = sc.seccompProfile?.type ?? spec.securityContext?.seccompProfile?.type;
    const command = container.command?.map((a) => expand(a, env));
    const args = container.args?.map((a) => expand(a, env));
    const previous = this.previous.get(container.name);
    const id = await this.deps.node.run({
      name: `k8s_${container.name}_${this.pod.name}_${this.pod.namespace}_${short(this.pod.uid)}_${status.restartCount}`,
      image: image.ref,
      entrypoint: command,
      cmd: command ? (args ?? []) : args,
      workingDir: container.workingDir,
      env,
      user,
      groupAdd: [spec.securityContext?.fsGroup, ...(spec.securityContext?.supplementalGroups ?? [])]
        .filter((g) => g !== undefined)
        .map(String),
      labels: { [POD_LABEL]: `${this.pod.namespace}/${this.pod.name}`, [CONTAINER_LABEL]: container.name },
      sandboxId: this.sandbox.id,
      readOnlyRootfs: sc.readOnlyRootFilesystem === true,
      capAdd: sc.capabilities?.add ?? [],
      capDrop: sc.capabilities?.drop ?? [],
      noNewPrivileges: sc.allowPrivilegeEscalation === false,
      // The API's default without a profile is Unconfined (the kubelet's --seccomp-default is off by default).
      seccompUnconfined: seccomp !== 'RuntimeDefault',
      ...containerResources(container),
      cpusetCpus: this.deps.cpuset,
      mounts,
    });
    // The kubelet keeps the last dead container of each (for `logs --previous`); older ones go.
    if (previous) {
      const older = this.previous.get(`${container.name}#older`);
      if (older) await this.deps.node.remove(older);
      this.previous.set(`${container.name}#older`, previous);
    }
    const run: Running = {
      id,
      startedAt: Date.now(),
      abort: new AbortController(),
    };
    this.running.set(container.name, run);
    status.containerId = id;
    status.state = { running: { startedAt: new Date(run.startedAt).toISOString() } };
    status.started = !container.startupProbe;
    status.ready = false;
    this.event('Normal', 'Started', `Started container ${container.name} (${image.ref})`);
    // An exit that happened before the engine's event stream saw the container still counts.
    void this.deps.node.exitOf(id).then((exit) => (exit ? this.onExit(id) : undefined));
    void this.probeLoop(container, status, run);
    this.refresh();
    return true;
  }

  private identity() {
    return {
      name: this.pod.name,
      namespace: this.pod.namespace,
      uid: this.pod.uid,
      labels: this.pod.labels,
      annotations: this.pod.annotations,
      ip: this.pod.ip ?? '',
      hostIp: this.pod.ip ?? '',
      nodeName: 'docker',
      serviceAccountName: this.pod.spec.serviceAccountName ?? 'default',
    };
  }

  /** Startup until it passes, then readiness and liveness, each on its own period; every result moves the status. */
  private async probeLoop(container: Container, status: ContainerStatus, run: Running): Promise<void> {
    const { startupProbe, readinessProbe, livenessProbe } = container;
    if (startupProbe) {
      let failures = 0;
      const passed = await this.everyPeriod(startupProbe, run, async (result) => {
        if (result.ok) return 'done';
        this.event('Warning', 'Unhealthy', `Startup probe failed: ${result.message}`);
        if (++failures < probeTiming(startupProbe).failureThreshold) return 'again';
        await this.killForProbe(container, run, 'startup', startupProbe);
        return 'stop';
      });
      if (!passed) return;
      status.started = true;
    }
    if (!readinessProbe) status.ready = true;
    this.refresh();
    const loops: Promise<unknown>[] = [];
    if (readinessProbe) {
      const t = probeTiming(readinessProbe);
      let successes = 0;
      let failures = 0;
      loops.push(
        this.everyPeriod(readinessProbe, run, async (result) => {
          successes = result.ok ? successes + 1 : 0;
          failures = result.ok ? 0 : failures + 1;
          if (!result.ok && (failures === 1 || failures === t.failureThreshold))
            this.event('Warning', 'Unhealthy', `Readiness probe failed: ${result.message}`);
          const ready = status.ready ? failures < t.failureThreshold : successes >= t.successThreshold;
          if (ready !== status.ready) {
            status.ready = ready;
            this.refresh();
          }
          return 'again';
        }),
      );
    }
    if (livenessProbe) {
      let failures = 0;
      loops.push(
        this.everyPeriod(livenessProbe, run, async (result) => {
          if (result.ok) {
            failures = 0;
            return 'again';
          }
          this.event('Warning', 'Unhealthy', `Liveness probe failed: ${result.message}`);
          if (++failures < probeTiming(livenessProbe).failureThreshold) return 'again';
          await this.killForProbe(container, run, 'liveness', livenessProbe);
          return 'stop';
        }),
      );
    }
    await Promise.all(loops);
  }

  /**
   * Runs a probe after its initial delay and then every period, as the kubelet's prober does, handing each result to
   * `handle` until it says 'done' (resolves true) or 'stop', or the container goes (both resolve false).
   */
  private async everyPeriod(
    probe: Probe,
    run: Running,
    handle: (result: ProbeResult) => Promise<'again' | 'done' | 'stop'>,
  ): Promise<boolean> {
    const signal = run.abort.signal;
    const sleep = (ms: number) =>
      delay(ms, undefined, { signal }).then(
        () => true,
        () => false,
      );
    const t = probeTiming(probe);
    if (!(await sleep(t.initialDelayMs))) return false;
    for (;;) {
      const result = await runProbe(
        probe,
        { podIp: this.pod.ip!, containerId: run.id, containers: this.pod.spec.containers },
        this.deps.node,
      );
      if (signal.aborted) return false;
      const next = await handle(result);
      if (next !== 'again') return next === 'done';
      if (!(await sleep(t.periodMs))) return false;
    }
  }

  private async killForProbe(container: Container, run: Running, which: string, probe: Probe): Promise<void> {
    this.event('Normal', 'Killing', `Container ${container.name} failed ${which} probe, will be restarted`);
    run.killing = `was killed after its ${which} probe failed ${probeTiming(probe).failureThreshold} times`;
    const grace = (probe.terminationGracePeriodSeconds ?? this.pod.spec.terminationGracePeriodSeconds ?? 30) * 1000;
    await this.stopContainer(container, run, grace);
  }

  /** preStop, then the stop signal, then SIGKILL when the grace period is over. Resolves when it has exited. */
  private async stopContainer(container: Container, run: Running, graceMs: number): Promise<void> {
    const deadline = Date.now() + graceMs;
    const hook = container.lifecycle?.preStop;
    if (hook && this.pod.ip) {
      const left = Math.max(0, deadline - Date.now());
      if (hook.exec) await this.deps.node.exec(run.id, hook.exec.command, left).catch(() => undefined);
      else if (hook.httpGet) await httpGet(hook.httpGet, this.pod.ip, this.pod.spec.containers, left);
      else if (hook.sleep) await delay(Math.min(left, hook.sleep.seconds * 1000));
    }
    const facts = this.images.get(this.deps.mapImage(container.image));
    await this.deps.node.signal(run.id, facts?.stopSignal || 'SIGTERM');
    while (Date.now() < deadline) {
      if (await this.deps.node.exitOf(run.id)) return;
      await delay(100);
    }
    this.event('Warning', 'Killing', `container ${container.name} did not stop within ${graceMs / 1000} s: SIGKILL`);
    await this.deps.node.signal(run.id, 'SIGKILL');
  }

  /** Recomputes phase and readiness from the containers. */
  private refresh(): void {
    const pod = this.pod;
    const all = pod.containers;
    const initDone = pod.initContainers.every((c) => 'terminated' in c.state && c.state.terminated.exitCode === 0);
    const policy = pod.spec.restartPolicy ?? 'Always';
    const terminated = all.every((c) => 'terminated' in c.state);
    if (terminated && policy !== 'Always' && initDone && all.length > 0) {
      const failed = all.some((c) => 'terminated' in c.state && c.state.terminated.exitCode !== 0);
      pod.phase = failed && policy === 'Never' ? 'Failed' : failed ? pod.phase : 'Succeeded';
    } else if (initDone && all.some((c) => 'running' in c.state || 'terminated' in c.state)) pod.phase = 'Running';
    else pod.phase = 'Pending';
    const ready = !pod.deleting && initDone && all.every((c) => c.ready && 'running' in c.state);
    if (ready && !pod.ready) pod.readySince = Date.now();
    if (!ready) pod.readySince = undefined;
    pod.ready = ready;
    // Containers' states change too (a restart count, a waiting reason): the cluster's state is refreshed either way.
    this.deps.changed();
  }

  /**
   * Deletes the pod as the kubelet does: it leaves every Service's endpoints at once (deleting), each container gets
   * preStop and its stop signal, SIGKILL when the grace period ends; then the sandbox and the pod's own volumes go.
   * Claims stay. Resolves when nothing of the pod runs.
   */
  async delete(graceSeconds?: number): Promise<void> {
    if (this.stopped) return;
    this.pod.deleting = true;
    this.pod.ready = false;
    this.deps.changed();
    const grace = (graceSeconds ?? this.pod.spec.terminationGracePeriodSeconds ?? 30) * 1000;
    this.event('Normal', 'Killing', `Stopping pod ${this.pod.name} (grace period ${grace / 1000} s)`);
    await this.syncing?.catch(() => undefined);
    await Promise.all(
      [...this.running.entries()].map(async ([name, run]) => {
        run.killing = 'was stopped with its pod';
        run.abort.abort();
        await this.stopContainer(this.spec(name), run, grace);
      }),
    );
    this.stopped = true;
    clearInterval(this.timer);
    for (const run of this.running.values()) await this.deps.node.remove(run.id);
    for (const id of this.previous.values()) await this.deps.node.remove(id);
    if (this.sandbox) await this.deps.node.remove(this.sandbox.id);
    for (const volume of this.removedVolumes) await this.deps.node.removeVolume(volume);
    rmSync(join(this.deps.stateDir, 'pods', this.pod.uid), { recursive: true, force: true });
    this.deps.changed();
  }

  /** The Docker id of a container of this pod (tests kill it to show restarts). */
  containerId(name: string): string | undefined {
    return this.running.get(name)?.id;
  }

  /** Runs a command in a container of this pod. */
  exec(name: string, command: string[], timeoutMs = 30_000) {
    const id = this.running.get(name)?.id;
    if (!id) throw new Error(`${this.pod.name}: container ${name} is not running`);
    return this.deps.node.exec(id, command, timeoutMs);
  }
}

/** The Docker volume that backs a claim: named after the namespace and the claim, so it outlives every pod. */
export const claimVolume = (cluster: string, namespace: string, claim: string) => `k8sd-${cluster}-${namespace}-${claim}`;
