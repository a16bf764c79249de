import { loadServices } from '@strata/service-registry';
import { targetVariable } from '@strata/service-kit';
import { GenericContainer, Network, Wait, getContainerRuntimeClient, type StartedNetwork, type StartedTestContainer } from 'testcontainers';

/** A container with an exact CPU quota. A 10 ms CFS period (Docker's default is 100 ms) keeps throttling
 * pauses short, so latency reflects capacity rather than the quota's granularity. */
class QuotaContainer extends GenericContainer {
  withCpuQuota(cpus: number): this {
    this.hostConfig.CpuPeriod = 10_000;
    this.hostConfig.CpuQuota = Math.max(1_000, Math.round(cpus * 10_000));
    return this;
  }
}

const registry = loadServices();
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
}

const GRPC_ENV = {
  GRPC_HOST: '0.0.0.0',
  LOG_LEVEL: 'warn',
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
  if (declared.layer === 'edge') return { ...targets, GATEWAY_HOST: '0.0.0.0', LOG_LEVEL: 'warn', REQUEST_TIMEOUT_MS: '5000' };
  return { ...GRPC_ENV, ...targets, ...data };
}

/**
 * The whole topology as containers on one Docker network: network aliases play the headless Services (every
 * replica of catalog answers to "catalog"), CPU quotas play the k8s limits. Replicas are added live.
 */
export class ContainerTopology {
  private readonly containers = new Map<ServiceName, StartedTestContainer[]>();

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
    return this.replicas(edge.name).map((c) => `http://${this.ip(c)}:${edge.ports.http}`);
  }

  metricsUrl(container: StartedTestContainer): string {
    return `http://${this.ip(container)}:9464/metrics`;
  }

  /** Starts replicas until `service` has `count`; returns the new ones (started in parallel). */
  async scaleTo(service: ServiceName, count: number): Promise<StartedTestContainer[]> {
    const current = this.replicas(service);
    const wanted = Math.max(0, count - current.length);
    const started = await Promise.all(Array.from({ length: wanted }, (_, k) => this.startReplica(service, current.length + k + 1)));
    this.containers.set(service, [...current, ...started]);
    return started;
  }

  private async startReplica(service: ServiceName, index: number): Promise<StartedTestContainer> {
    const image = service === 'postgres' ? `strata/postgres:${this.options.tag}` : `strata/${service}:${this.options.tag}`;
    const container = new QuotaContainer(image)
      .withNetwork(this.network)
      .withNetworkAliases(service)
      .withName(`strata-capacity-${service}-${index}-${process.pid}`)
      .withEnvironment(service === 'postgres' ? {} : envFor(service))
      .withCpuQuota(this.options.cpus[service])
      .withStartupTimeout(60_000)
      .withWaitStrategy(service === 'postgres' ? Wait.forLogMessage(/ready to accept connections/) : Wait.forHealthCheck());
    const started = await container.start();
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
