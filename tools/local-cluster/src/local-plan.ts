import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { START_ORDER, serviceNodeOptions, type ServiceRegistry } from '@strata/service-registry';
import { LOCAL_SCHEME } from '@strata/service-kit/local-resolver';
import type { DeploymentSpec } from '@strata/service-registry';

/** How one replica is started on this machine. */
export interface ReplicaPlan {
  /** "catalog-2" */
  id: string;
  service: string;
  layer: string;
  /** Script run with this machine's Node (the one Strata ships), and its arguments. */
  script: string;
  args: string[];
  env: Record<string, string>;
  /** What is dialled or browsed: "127.0.0.1:21002" or "http://127.0.0.1:8080". */
  address: string;
  /** How readiness is checked. */
  probe: { kind: 'grpc'; address: string; service: string } | { kind: 'http'; url: string } | { kind: 'postgres'; url: string };
  metricsUrl: string;
}

/** A service of the local cluster: what every replica of it shares, and how replica number `slot` is made. */
export interface ServiceTemplate {
  name: string;
  layer: string;
  /** gRPC replicas are published to the callers' resolver; the edge shares one port instead. */
  kind: 'grpc' | 'http' | 'data';
  /** Replica number `slot`, started from the build under `root` (a revision: see revisions.ts) or the working tree. */
  replica(slot: number, root?: string): ReplicaPlan;
}

export interface LocalPlanOptions {
  repoRoot: string;
  /** Replica `slot` of the i-th service (by name) listens on basePort + 100·i + slot; its metrics on + 50. */
  basePort: number;
  gatewayPort: number;
  databaseUrl: string;
  /** Where the supervisor publishes the addresses of ready replicas, for the callers' strata-local:/// resolver. */
  endpointsFile: string;
  /** Overrides for every replica (LOG_LEVEL, SHUTDOWN_DELAY_MS, …). */
  extraEnv?: Record<string, string>;
}

/** Slots per service: ports basePort + 100·i + 1 … + 49 (metrics + 50). */
export const MAX_SLOTS = 49;

/** Start order: callees before callers, so a caller's first calls find someone to talk to. */
export const LAYER_ORDER: readonly string[] = START_ORDER;

/**
 * Turns the overlay's Deployments into local service templates. Every `dns:///<service>:<port>` target in the env
 * becomes `strata-local:///<service>`, which the callers' resolver answers with the ready replicas the supervisor
 * publishes — and keeps answering as replicas come and go, as DNS of a headless Service does for pods.
 */
export function planServices(
  deployments: readonly DeploymentSpec[],
  registry: ServiceRegistry,
  options: LocalPlanOptions,
): ServiceTemplate[] {
  const rewriteTarget = (value: string) => {
    const match = /^dns:\/\/\/([a-z0-9-]+)(?:\.[a-z0-9.-]+)?:\d+$/.exec(value);
    return match && registry.has(match[1]!) ? `${LOCAL_SCHEME}:///${match[1]}` : value;
  };
  const templates = deployments.map((d, i): ServiceTemplate => {
    const declared = registry.get(d.name);
    const env = Object.fromEntries(Object.entries(d.env).map(([k, v]) => [k, rewriteTarget(v)]));
    Object.assign(env, { STRATA_ENDPOINTS_FILE: options.endpointsFile }, options.extraEnv);
    // The strata-local:/// resolver is loaded into the replica by the local cluster, the only runtime that uses it:
    // the app's code (and its image) does not import it. It and the tracing preload come from the replica's own build
    // (its revision under --watch), so its grpc-js registers the resolver and its kit finds the tracer.
    const kitFile = (root: string, file: string) => pathToFileURL(join(root, 'libs', 'service-kit', 'dist', file)).href;
    const nodeOptions = (root = options.repoRoot) =>
      `${serviceNodeOptions(kitFile(root, 'tracing-preload.js'))} --import=${kitFile(root, 'local-resolver.js')}`;
    if (declared.data.includes('postgres')) env.DATABASE_URL = options.databaseUrl;
    const port = (slot: number) => options.basePort + 100 * i + slot;
    /** One replica of this service: what every replica shares, and what its kind adds. */
    const replica = (
      slot: number,
      root: string | undefined,
      own: Pick<ReplicaPlan, 'env' | 'address' | 'probe' | 'metricsUrl'>,
    ): ReplicaPlan => ({
      id: `${d.name}-${slot}`,
      service: d.name,
      layer: d.layer,
      script: join(root ?? options.repoRoot, 'apps', d.name, 'dist', 'main.js'),
      args: [],
      env: { ...env, NODE_OPTIONS: nodeOptions(root), ...own.env },
      address: own.address,
      probe: own.probe,
      metricsUrl: own.metricsUrl,
    });
    if (d.ports.grpc !== undefined) {
      return {
        name: d.name,
        layer: d.layer,
        kind: 'grpc',
        replica: (slot, root) => {
          const address = `127.0.0.1:${port(slot)}`;
          return replica(slot, root, {
            env: { GRPC_HOST: '127.0.0.1', GRPC_PORT: String(port(slot)), METRICS_PORT: String(port(slot) + 50) },
            address,
            probe: { kind: 'grpc', address, service: d.readinessService ?? '' },
            metricsUrl: `http://127.0.0.1:${port(slot) + 50}/metrics`,
          });
        },
      };
    }
    // The edge: every replica binds the same port and the kernel spreads connections (SO_REUSEPORT), as a Service
    // spreads them over pods; each replica answers its own probe and scrape on an ops port.
    return {
      name: d.name,
      layer: d.layer,
      kind: 'http',
      replica: (slot, root) =>
        replica(slot, root, {
          env: {
            GATEWAY_HOST: '127.0.0.1',
            GATEWAY_PORT: String(options.gatewayPort),
            GATEWAY_REUSE_PORT: 'true',
            OPS_PORT: String(port(slot)),
          },
          address: `http://127.0.0.1:${options.gatewayPort}`,
          probe: { kind: 'http', url: `http://127.0.0.1:${port(slot)}/readyz` },
          metricsUrl: `http://127.0.0.1:${port(slot)}/metrics`,
        }),
    };
  });
  return templates.sort((a, b) => LAYER_ORDER.indexOf(a.layer) - LAYER_ORDER.indexOf(b.layer) || a.name.localeCompare(b.name));
}
