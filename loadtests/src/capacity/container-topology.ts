import { loadServices } from '@strata/service-registry';
import { targetVariable } from '@strata/service-kit';
import { GenericContainer, Network, Wait, getContainerRuntimeClient, type StartedNetwork, type StartedTestContainer } from 'testcontainers';

/** A container with an exact CPU quota (a Kubernetes CPU limit's role), on the CFS period pods get. */
class QuotaContainer extends GenericContainer {
  withCpuQuota(cpus: number, periodUs = CFS_PERIOD_US): this {
    this.hostConfig.CpuPeriod = periodUs;
    this.hostConfig.CpuQuota = Math.max(1_000, Math.round(cpus * periodUs));
    return this;
  }

  /**
   * No Docker HEALTHCHECK: the images' check starts a Node process every 2 s inside the container (~0.11 s of CPU
   * each), which would take about a fifth of a 0.25-CPU quota — a cost a Kubernetes pod does not pay, its kubelet
   * asks the gRPC health service from outside. Readiness is the service's own "serving" log line instead.
   */
  withoutHealthCheck(): this {
    this.createOpts.Healthcheck = { Test: ['NONE'] };
    return this;
  }
}

const registry = loadServices();
/**
 * The CFS period of every quota (µs): 100 ms, Docker's and Kubernetes' default (STRATA_CFS_PERIOD_US overrides). A 10 ms
 * period (the first version's choice, for shorter throttling stalls) made every request cost 30–60 % more CPU: a
 * search took 1.6–2.0 ms of a 0.25-CPU catalog against 1.1–1.3 ms with 100 ms (docs/architecture.md, 12).
 */
export const CFS_PERIOD_US = Number(process.env.STRATA_CFS_PERIOD_US ?? 100_000);
/** The data layer first, then every declared service in start order (leaf, composite, edge). */
export const SERVICES: readonly string[] = ['postgres', ...registry.names];
export type ServiceName = string;
/** CPU quota of the database container (the data layer is no declared service). */
export const POSTGRES_CPUS = 0.3;

export interface TopologyOptions {
  tag: string;
  replicas: Record<ServiceName, number>;
  /** CPUs per replica (the k8s limit's role). */
  cpus: Record<ServiceName, number>;
  log?: (line: string) => void;
  /** Called when replicas were added. */
  onChange?: () => void;
}

const GRPC_ENV = {
  GRPC_HOST: '0.0.0.0',
  // info: the start-up line says "serving" (what readiness waits for); nothing is logged per successful call.
  LOG_LEVEL: 'info',
  // Shorter than k8s's 30 s so a new replica takes traffic within ~10 s of the scale-out; not so short that
  // reconnections of a single replica show in p99.
  GRPC_MAX_CONNECTION_AGE_MS: '10000',
  DRAIN_TIMEOUT_MS: '3000',
};

/** A container's env from its declaration: one target per callee (the network alias plays the headless Service). */
function envFor(service: ServiceName): Record<string, string> {
  const declared = registry.get(service);
  const targets = Object.fromEntries(
    declared.calls.map((callee) => [targetVariable(callee), `dns:///${callee}:${registry.get(callee).ports.grpc}`]),
  );
  const data: Record<string, string> = declared.data.includes('postgres')
    ? { DATABASE_URL: 'postgres://strata:strata@postgres:5432/postgres', DATABASE_POOL_SIZE: '8' }
    : {};
  if (declared.layer === 'edge') return { ...targets, GATEWAY_HOST: '0.0.0.0', LOG_LEVEL: 'info', REQUEST_TIMEOUT_MS: '5000' };
  return { ...GRPC_ENV, ...targets, ...data };
}

/**
 * The whole topology as containers on one Docker network: network aliases play the headless Services (every
 * replica of catalog answers to "catalog"), CPU quotas play the k8s limits. Replicas are added live.
 */
export class ContainerTopology {
  private readonly containers = new Map<ServiceName, StartedTestContainer[]>();
  /** Container id → replica name ("catalog-3"). */
  private readonly names = new Map<string, string>();
  /** Replicas being replaced: out of the edge's endpoints, still running while they drain. */
  private readonly leaving = new Set<string>();

  private constructor(
    readonly network: StartedNetwork,
    private readonly options: TopologyOptions,
  ) {}

  static async start(options: TopologyOptions): Promise<ContainerTopology> {
    const network = await new Network().start();
    const topology = new ContainerTopology(network, options);
    try {
      for (const service of SERVICES) await topology.scaleTo(service, options.replicas[service]);
    } catch (error) {
      await topology.stop();
      throw error;
    }
    return topology;
  }

  replicas(service: ServiceName): StartedTestContainer[] {
    return this.containers.get(service) ?? [];
  }

  ip(container: StartedTestContainer): string {
    return container.getIpAddress(this.network.getName());
  }

  /** The base URLs of the edge's replicas (the edge is the one declared service of layer edge). */
  gatewayUrls(): string[] {
    const edge = registry.inLayer('edge')[0]!;
    return this.replicas(edge.name)
      .filter((c) => !this.leaving.has(c.getId()))
      .map((c) => `http://${this.ip(c)}:${edge.ports.http}`);
  }

  /** A replica's Prometheus metrics: the metrics port of a gRPC service, the API port of the edge. */
  metricsUrl(service: ServiceName, container: StartedTestContainer): string | undefined {
    if (service === 'postgres') return undefined;
    const declared = registry.get(service);
    return `http://${this.ip(container)}:${declared.layer === 'edge' ? declared.ports.http : declared.ports.metrics}/metrics`;
  }

  /** host:port of every replica of a gRPC service, on the Docker network (what a headless Service's DNS answers). */
  grpcAddresses(service: ServiceName): string[] {
    const port = registry.get(service).ports.grpc;
    return this.replicas(service).map((c) => `${this.ip(c)}:${port}`);
  }

  /** CPU quota of each replica of `service`, in cores. */
  quota(service: ServiceName): number {
    return this.options.cpus[service] ?? Number.NaN;
  }

  /** Every service of the topology, the data layer first. */
  services(): ServiceName[] {
    return [...this.containers.keys()];
  }

  /**
   * A Deployment's rolling update (maxSurge 1, maxUnavailable 0) from the running image to `image`: for each old replica,
   * start one of `image` behind the same alias, wait until it serves, take the old one out of what the edge's clients
   * are given (the edge: `gatewayUrls()`; gRPC callers notice the drain's GOAWAY), let `endpointGraceMs` pass as
   * endpoint propagation would, then stop it with SIGTERM (readiness off, drain, exit) and a grace of `stopGraceMs`.
   */
  async rollTo(service: ServiceName, image: string, options: { endpointGraceMs?: number; stopGraceMs?: number } = {}): Promise<void> {
    const old = [...this.replicas(service)];
    let index = Math.max(0, ...[...this.names.values()].filter((n) => n.startsWith(`${service}-`)).map((n) => Number(n.split('-').pop())));
    for (const previous of old) {
      const successor = await this.startReplica(service, ++index, image);
      this.containers.set(service, [...this.replicas(service), successor]);
      this.options.onChange?.();
      this.leaving.add(previous.getId());
      await new Promise((r) => setTimeout(r, options.endpointGraceMs ?? 2_000));
      await previous.stop({ timeout: options.stopGraceMs ?? 30_000 });
      this.leaving.delete(previous.getId());
      this.containers.set(
        service,
        this.replicas(service).filter((c) => c !== previous),
      );
      this.options.log?.(`    ${service}: replaced ${this.names.get(previous.getId())} by ${this.names.get(successor.getId())} (${image})`);
    }
  }

  /** Starts replicas until `service` has `count`; returns the new ones (started in parallel). */
  async scaleTo(service: ServiceName, count: number): Promise<StartedTestContainer[]> {
    const current = this.replicas(service);
    const wanted = Math.max(0, count - current.length);
    const started = await Promise.all(Array.from({ length: wanted }, (_, k) => this.startReplica(service, current.length + k + 1)));
    this.options.onChange?.();
    this.containers.set(service, [...current, ...started]);
    return started;
  }

  private async startReplica(service: ServiceName, index: number, imageOverride?: string): Promise<StartedTestContainer> {
    const image =
      imageOverride ?? (service === 'postgres' ? `strata/postgres:${this.options.tag}` : `strata/${service}:${this.options.tag}`);
    const container = new QuotaContainer(image)
      .withNetwork(this.network)
      .withNetworkAliases(service)
      .withName(`strata-capacity-${service}-${index}-${process.pid}`)
      .withEnvironment(service === 'postgres' ? {} : envFor(service))
      .withCpuQuota(this.options.cpus[service])
      .withStartupTimeout(60_000)
      .withoutHealthCheck()
      .withWaitStrategy(Wait.forLogMessage(service === 'postgres' ? /ready to accept connections/ : /"msg":"[a-z0-9-]+ serving"/));
    const started = await container.start();
    this.names.set(started.getId(), `${service}-${index}`);
    this.options.log?.(
      `    started ${service}-${index} (${this.options.cpus[service]} CPU) at ${started.getIpAddress(this.network.getName())}`,
    );
    return started;
  }

  /** Container id → start time, to prove later that nothing else was restarted. */
  async startTimes(except?: ServiceName): Promise<Record<string, string>> {
    const client = await getContainerRuntimeClient();
    const out: Record<string, string> = {};
    for (const [service, list] of this.containers) {
      if (service === except) continue;
      for (const c of list) {
        const info = await client.container.inspect(client.container.getById(c.getId()));
        out[`${service}:${c.getId().slice(0, 12)}`] = `${info.State.StartedAt} restarts=${info.RestartCount}`;
      }
    }
    return out;
  }

  async stop(): Promise<void> {
    const all = [...this.containers.values()].flat();
    await Promise.all(all.map((c) => c.stop({ timeout: 5_000 }).catch(() => undefined)));
    await this.network.stop().catch(() => undefined);
  }
}
