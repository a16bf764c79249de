import { join } from 'node:path';
import { START_ORDER, type ServiceRegistry } from '@strata/service-registry';
import type { DeploymentSpec } from './overlay-reader.js';

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

export interface LocalPlanOptions {
  repoRoot: string;
  /** Replica r (1-based) of the i-th Deployment (by name) listens on basePort + 100·i + r; metrics on +50. */
  basePort: number;
  gatewayPort: number;
  databaseUrl: string;
  /** Overrides for every replica (LOG_LEVEL, SHUTDOWN_DELAY_MS, …). */
  extraEnv?: Record<string, string>;
}

/** Start order: callees before callers, so a caller's first calls find someone to talk to. */
export const LAYER_ORDER: readonly string[] = START_ORDER;

/**
 * Turns the overlay's Deployments into local replicas: each gets its own ports, and every
 * `dns:///<service>:<port>` target in the env becomes `ipv4:` + the addresses of that service's replicas,
 * so callers round-robin over them exactly as they do over a headless Service's pods.
 */
export function planLocalReplicas(
  deployments: readonly DeploymentSpec[],
  registry: ServiceRegistry,
  options: LocalPlanOptions,
): ReplicaPlan[] {
  const grpcAddresses = new Map<string, string[]>();
  deployments.forEach((d, i) => {
    if (d.ports.grpc !== undefined) {
      grpcAddresses.set(
        d.name,
        range(d.replicas).map((r) => `127.0.0.1:${options.basePort + 100 * i + r}`),
      );
    }
  });
  const rewriteTarget = (value: string) => {
    const match = /^dns:\/\/\/([a-z0-9-]+)(?:\.[a-z0-9.-]+)?:\d+$/.exec(value);
    const addresses = match ? grpcAddresses.get(match[1]!) : undefined;
    return addresses ? `ipv4:${addresses.join(',')}` : value;
  };

  const plans: ReplicaPlan[] = [];
  deployments.forEach((d, i) => {
    const env = Object.fromEntries(Object.entries(d.env).map(([k, v]) => [k, rewriteTarget(v)]));
    for (const r of range(d.replicas)) {
      const id = `${d.name}-${r}`;
      const metricsPort = options.basePort + 100 * i + 50 + r;
      const replicaEnv: Record<string, string> = { ...env, ...options.extraEnv };
      let plan: Pick<ReplicaPlan, 'address' | 'probe' | 'metricsUrl'>;
      if (d.ports.grpc !== undefined) {
        const address = grpcAddresses.get(d.name)![r - 1]!;
        Object.assign(replicaEnv, { GRPC_HOST: '127.0.0.1', GRPC_PORT: address.split(':')[1]!, METRICS_PORT: String(metricsPort) });
        const declared = registry.get(d.name);
        if (declared.data.includes('postgres')) replicaEnv.DATABASE_URL = options.databaseUrl;
        plan = {
          address,
          probe: { kind: 'grpc', address, service: declared.contract?.services[0] ?? '' },
          metricsUrl: `http://127.0.0.1:${metricsPort}/metrics`,
        };
      } else {
        // The edge: every replica binds the same port and the kernel spreads connections (SO_REUSEPORT).
        const url = `http://127.0.0.1:${options.gatewayPort}`;
        Object.assign(replicaEnv, {
          GATEWAY_HOST: '127.0.0.1',
          GATEWAY_PORT: String(options.gatewayPort),
          GATEWAY_REUSE_PORT: String(d.replicas > 1),
        });
        plan = { address: url, probe: { kind: 'http', url: `${url}/readyz` }, metricsUrl: `${url}/metrics` };
      }
      plans.push({
        id,
        service: d.name,
        layer: d.layer,
        script: join(options.repoRoot, 'apps', d.name, 'dist', 'main.js'),
        args: [],
        env: replicaEnv,
        ...plan,
      });
    }
  });
  return plans.sort((a, b) => LAYER_ORDER.indexOf(a.layer) - LAYER_ORDER.indexOf(b.layer) || a.id.localeCompare(b.id));
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, k) => k + 1);
}
