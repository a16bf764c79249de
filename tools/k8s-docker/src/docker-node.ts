import { EventEmitter } from 'node:events';
import Docker from 'dockerode';
import { MissingPrerequisite } from '@strata/preflight';

/** Label on every Docker object the runtime makes, with the cluster's name: how `down` finds what is left. */
export const CLUSTER_LABEL = 'io.strata.k8s-docker.cluster';
export const POD_LABEL = 'io.strata.k8s-docker.pod';
export const CONTAINER_LABEL = 'io.strata.k8s-docker.container';

/** What the kubelet needs to know of an image. */
export interface ImageFacts {
  id: string;
  /** USER of the image ("", "10001:10001", "postgres"). */
  user: string;
  stopSignal?: string;
}

export interface ContainerExit {
  exitCode: number;
  oomKilled: boolean;
  finishedAt: string;
}

export interface Mount {
  type: 'volume' | 'bind';
  source: string;
  target: string;
  readOnly: boolean;
}

export interface ContainerPlan {
  name: string;
  image: string;
  entrypoint?: string[];
  cmd?: string[];
  workingDir?: string;
  env: Record<string, string>;
  user?: string;
  groupAdd: string[];
  labels: Record<string, string>;
  /** The sandbox whose network namespace the container joins (a pod's containers share one IP). */
  sandboxId: string;
  readOnlyRootfs: boolean;
  capAdd: string[];
  capDrop: string[];
  noNewPrivileges: boolean;
  seccompUnconfined: boolean;
  /** CFS quota on a 100 ms period, as the kubelet sets a CPU limit. */
  cpuQuotaMilli?: number;
  /** cpu.shares from the CPU request, as the kubelet sets them (1024 per core, at least 2). */
  cpuShares?: number;
  /** The host CPUs it may run on (`docker run --cpuset-cpus`): the node it stands on, where a run declares nodes. */
  cpusetCpus?: string;
  memoryBytes?: number;
  mounts: Mount[];
}

/**
 * One Docker engine as a node: the container runtime under the kubelet. A pod is a sandbox container that holds the
 * network namespace (and so the pod's IP, hostname and DNS settings) plus one container per declared container,
 * joined to it, as dockershim ran pods. Everything it creates carries the cluster label.
 */
export class DockerNode extends EventEmitter {
  readonly docker: Docker;
  private events?: NodeJS.ReadableStream;

  constructor(
    readonly cluster: string,
    socketPath = process.env.DOCKER_HOST?.startsWith('unix://') ? process.env.DOCKER_HOST.slice(7) : '/var/run/docker.sock',
  ) {
    super();
    this.docker = new Docker({ socketPath });
  }

  get networkName(): string {
    return `k8sd-${this.cluster}`;
  }

  private labels(extra: Record<string, string> = {}): Record<string, string> {
    return { [CLUSTER_LABEL]: this.cluster, ...extra };
  }

  /** Fails with one line when no engine answers. */
  async ping(): Promise<void> {
    try {
      await this.docker.ping();
    } catch (error) {
      throw new MissingPrerequisite(`no Docker engine answers (${(error as Error).message}): start Docker, then run this again`, {
        cause: error,
      });
    }
  }

  /** The cluster network: one flat network for every namespace, as a pod network is. */
  async ensureNetwork(): Promise<void> {
    const existing = await this.docker.listNetworks({ filters: { name: [this.networkName] } });
    if (existing.some((n) => n.Name === this.networkName)) return;
    await this.docker.createNetwork({ Name: this.networkName, Driver: 'bridge', Labels: this.labels() });
  }

  /** Watches the engine's container events of this cluster: 'die' (id, exit) is how the kubelet learns of exits. */
  async watchEvents(): Promise<void> {
    const stream = (await this.docker.getEvents({
      filters: { type: ['container'], event: ['die'], label: [`${CLUSTER_LABEL}=${this.cluster}`] },
    })) as NodeJS.ReadableStream;
    this.events = stream;
    let buffer = '';
    stream.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      let newline: number;
      while ((newline = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        try {
          const event = JSON.parse(line) as { id: string; status: string };
          if (event.status === 'die') this.emit('die', event.id);
        } catch {
          // a partial line: the next chunk completes it
        }
      }
    });
    stream.on('error', () => undefined);
  }

  stopWatching(): void {
    (this.events as unknown as { destroy?: () => void })?.destroy?.();
  }

  async image(reference: string): Promise<ImageFacts | undefined> {
    try {
      const info = await this.docker.getImage(reference).inspect();
      return { id: info.Id, user: info.Config?.User ?? '', stopSignal: (info.Config as { StopSignal?: string })?.StopSignal };
    } catch {
      return undefined;
    }
  }

  /** `docker pull`; rejects with the engine's reason. */
  async pull(reference: string): Promise<void> {
    const stream = await this.docker.pull(reference);
    await new Promise<void>((resolve, reject) =>
      this.docker.modem.followProgress(stream, (error: Error | null) => (error ? reject(error) : resolve())),
    );
  }

  /** A pod's sandbox: holds the network namespace, hostname and DNS of the pod; mounts its volumes to prepare them. */
  async createSandbox(options: {
    name: string;
    image: string;
    hostname: string;
    domainname?: string;
    dns: string;
    dnsSearch: string[];
    labels: Record<string, string>;
    volumes: { source: string; type: 'volume' | 'bind' }[];
  }): Promise<{ id: string; ip: string }> {
    const container = await this.docker.createContainer({
      name: options.name,
      Image: options.image,
      Entrypoint: ['sleep'],
      Cmd: ['infinity'],
      Hostname: options.hostname,
      Domainname: options.domainname,
      Labels: this.labels(options.labels),
      HostConfig: {
        NetworkMode: this.networkName,
        Dns: [options.dns],
        DnsSearch: options.dnsSearch,
        DnsOptions: ['ndots:5'],
        ReadonlyRootfs: true,
        Mounts: options.volumes.map((v, i) => ({ Type: v.type, Source: v.source, Target: `/strata-volumes/${i}` })),
        Memory: 16 * 2 ** 20,
      },
    });
    await container.start();
    const info = await container.inspect();
    const ip = info.NetworkSettings.Networks[this.networkName]?.IPAddress;
    if (!ip) throw new Error(`sandbox ${options.name} got no address on ${this.networkName}`);
    return { id: info.Id, ip };
  }

  async createVolume(name: string, labels: Record<string, string>, tmpfsBytes?: number): Promise<void> {
    try {
      await this.docker.getVolume(name).inspect();
      return;
    } catch {
      // not there yet
    }
    await this.docker.createVolume({
      Name: name,
      Labels: this.labels(labels),
      ...(tmpfsBytes !== undefined ? { Driver: 'local', DriverOpts: { type: 'tmpfs', device: 'tmpfs', o: `size=${tmpfsBytes}` } } : {}),
    });
  }

  async removeVolume(name: string): Promise<void> {
    await this.docker
      .getVolume(name)
      .remove()
      .catch(() => undefined);
  }

  /** Creates and starts a container of a pod; resolves with its id. */
  async run(plan: ContainerPlan): Promise<string> {
    const security = [...(plan.noNewPrivileges ? ['no-new-privileges'] : []), ...(plan.seccompUnconfined ? ['seccomp=unconfined'] : [])];
    const container = await this.docker.createContainer({
      name: plan.name,
      Image: plan.image,
      Entrypoint: plan.entrypoint,
      Cmd: plan.cmd,
      WorkingDir: plan.workingDir,
      Env: Object.entries(plan.env).map(([k, v]) => `${k}=${v}`),
      User: plan.user,
      Labels: this.labels(plan.labels),
      // A kubelet never runs an image's HEALTHCHECK (the CRI has none; probes are the pod's): Docker would, every
      // interval, as a process inside the container, on the container's CPU quota (Strata's images: a Node process
      // every 2 s, about 40 % of a 0.25-CPU quota, measured here).
      Healthcheck: { Test: ['NONE'] },
      HostConfig: {
        NetworkMode: `container:${plan.sandboxId}`,
        ReadonlyRootfs: plan.readOnlyRootfs,
        CapAdd: plan.capAdd,
        CapDrop: plan.capDrop,
        SecurityOpt: security,
        GroupAdd: plan.groupAdd,
        ...(plan.cpuQuotaMilli !== undefined ? { CpuPeriod: 100_000, CpuQuota: Math.max(1_000, plan.cpuQuotaMilli * 100) } : {}),
        ...(plan.cpuShares !== undefined ? { CpuShares: plan.cpuShares } : {}),
        ...(plan.cpusetCpus !== undefined ? { CpusetCpus: plan.cpusetCpus } : {}),
        ...(plan.memoryBytes !== undefined ? { Memory: plan.memoryBytes, MemorySwap: plan.memoryBytes } : {}),
        Mounts: plan.mounts.map((m) => ({ Type: m.type, Source: m.source, Target: m.target, ReadOnly: m.readOnly })),
      },
    });
    await container.start();
    return container.id;
  }

  /** Runs a command in a container (exec probes, hooks, volume preparation); bounded by `timeoutMs`. */
  async exec(id: string, command: string[], timeoutMs: number, user?: string): Promise<{ exitCode: number; output: string }> {
    const exec = await this.docker.getContainer(id).exec({ Cmd: command, AttachStdout: true, AttachStderr: true, User: user });
    const stream = await exec.start({ hijack: true, stdin: false });
    const chunks: Buffer[] = [];
    const done = new Promise<void>((resolve) => {
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => resolve());
      stream.on('error', () => resolve());
    });
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      done.then(() => false),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), timeoutMs))),
    ]);
    clearTimeout(timer);
    if (timedOut) {
      (stream as unknown as { destroy(): void }).destroy();
      return { exitCode: -1, output: `timed out after ${timeoutMs} ms` };
    }
    const info = await exec.inspect();
    return { exitCode: info.ExitCode ?? -1, output: demux(Buffer.concat(chunks)) };
  }

  /** The exit of a stopped container, or undefined while it runs. */
  async exitOf(id: string): Promise<ContainerExit | undefined> {
    try {
      const info = await this.docker.getContainer(id).inspect();
      if (info.State.Running) return undefined;
      return { exitCode: info.State.ExitCode, oomKilled: info.State.OOMKilled, finishedAt: info.State.FinishedAt };
    } catch {
      return { exitCode: -1, oomKilled: false, finishedAt: new Date().toISOString() };
    }
  }

  async signal(id: string, signal: string): Promise<void> {
    await this.docker
      .getContainer(id)
      .kill({ signal })
      .catch(() => undefined);
  }

  async remove(id: string): Promise<void> {
    await this.docker
      .getContainer(id)
      .remove({ force: true, v: false })
      .catch(() => undefined);
  }

  /** The last lines a container wrote (stdout and stderr). */
  async logs(id: string, tail = 20): Promise<string> {
    try {
      const buffer = (await this.docker.getContainer(id).logs({ stdout: true, stderr: true, tail, follow: false })) as unknown as Buffer;
      return demux(buffer);
    } catch {
      return '';
    }
  }

  /** Removes every container and network this cluster made (and its volumes with `volumes`). */
  async removeEverything(volumes: boolean): Promise<void> {
    const filter = { label: [`${CLUSTER_LABEL}=${this.cluster}`] };
    const containers = await this.docker.listContainers({ all: true, filters: filter });
    await Promise.all(containers.map((c) => this.remove(c.Id)));
    const networks = await this.docker.listNetworks({ filters: filter });
    await Promise.all(
      networks.map((n) =>
        this.docker
          .getNetwork(n.Id)
          .remove()
          .catch(() => undefined),
      ),
    );
    if (volumes) {
      const { Volumes } = await this.docker.listVolumes({ filters: filter });
      await Promise.all((Volumes ?? []).map((v) => this.removeVolume(v.Name)));
    }
  }
}

/** Docker's multiplexed log stream (8-byte frame headers when the container has no TTY) as text. */
export function demux(buffer: Buffer): string {
  const parts: Buffer[] = [];
  let offset = 0;
  while (offset + 8 <= buffer.length && (buffer[offset] === 1 || buffer[offset] === 2) && buffer.readUInt16BE(offset + 1) === 0) {
    const size = buffer.readUInt32BE(offset + 4);
    parts.push(buffer.subarray(offset + 8, offset + 8 + size));
    offset += 8 + size;
  }
  return offset === 0 ? buffer.toString('utf8') : Buffer.concat(parts).toString('utf8');
}
