import { z } from 'zod';
import { STANDALONE_PORTS } from './standalone-ports.js';

/** Marks a default that only makes sense on this machine (an address on 127.0.0.1): see `localDefault`. */
const LOCAL_DEFAULT = 'strata:local-default';

/**
 * An address whose default is what a standalone local run dials (a callee's standalone port, the embedded PostgreSQL).
 * Inside a Kubernetes pod (the kubelet sets KUBERNETES_SERVICE_HOST in every container) it has no default: a variable
 * dropped from a Deployment would otherwise send every call to a localhost where nothing listens, and the pod would
 * look healthy while each call fails.
 */
export const localDefault = (schema: z.ZodString, fallback: string) => schema.default(fallback).describe(LOCAL_DEFAULT);

/**
 * Reads a service's configuration from the environment once, at start. A wrong value stops the
 * service with one message that names every bad variable, instead of failing later mid-request.
 */
export function loadConfig<S extends z.ZodType>(schema: S, env: NodeJS.ProcessEnv = process.env): z.infer<S> {
  const result = schema.safeParse(env);
  const problems = result.success ? [] : result.error.issues.map((issue) => `${issue.path.join('.') || '(env)'}: ${issue.message}`);
  if (env.KUBERNETES_SERVICE_HOST && schema instanceof z.ZodObject) {
    for (const [name, field] of Object.entries(schema.shape as Record<string, z.ZodType>)) {
      if (field.description === LOCAL_DEFAULT && !env[name])
        problems.push(
          `${name}: not set, and inside a Kubernetes pod it has no default (the local run's is for 127.0.0.1): set it in the container's env`,
        );
    }
  }
  if (problems.length > 0) throw new Error(`invalid configuration:\n  ${problems.join('\n  ')}`);
  return result.data as z.infer<S>;
}

/** A TCP port from an env var, with a default (0 = any free port). */
export const portVar = (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback);

/** A duration in milliseconds from an env var, with a default. */
export const millisVar = (fallback: number) => z.coerce.number().int().min(0).max(3_600_000).default(fallback);

export const logLevelVar = () => z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info');

/** What every service process shares, gRPC or HTTP: logs and the stop sequence. */
export const serviceEnv = z.object({
  LOG_LEVEL: logLevelVar(),
  /** How long readiness reports "not serving" before the server stops taking calls (k8s endpoint propagation). */
  SHUTDOWN_DELAY_MS: millisVar(0),
  /** Upper bound on draining in-flight calls; after it the server is stopped hard. */
  DRAIN_TIMEOUT_MS: millisVar(10_000),
});
export type ServiceEnv = z.infer<typeof serviceEnv>;

/** The settings every gRPC service shares; each service extends this schema with its own. */
export const grpcServiceEnv = serviceEnv.extend({
  GRPC_HOST: z.string().default('127.0.0.1'),
  GRPC_PORT: portVar(50051),
  METRICS_PORT: portVar(9464),
  /** Connections are closed after this age so clients re-resolve DNS and find new replicas. */
  GRPC_MAX_CONNECTION_AGE_MS: millisVar(30_000),
});
export type GrpcServiceEnv = z.infer<typeof grpcServiceEnv>;

/** The env var that holds the target of an upstream service: catalog → CATALOG_TARGET. */
export const targetVariable = (service: string) => `${service.toUpperCase().replace(/-/g, '_')}_TARGET`;

/** The services declared in apps/*\/service.json, and those of them that serve gRPC. */
export type DeclaredService = keyof typeof STANDALONE_PORTS;
export type GrpcService = { [S in DeclaredService]: (typeof STANDALONE_PORTS)[S] extends { grpc: number } ? S : never }[DeclaredService];

/** A gRPC service's own GRPC_PORT and METRICS_PORT, defaulting to its standalone ports (its service.json). */
export function ownPorts(service: GrpcService) {
  const ports = STANDALONE_PORTS[service];
  return { GRPC_PORT: portVar(ports.grpc), METRICS_PORT: portVar(ports.metrics) };
}

/** The edge's own HTTP port, defaulting to its standalone port (its service.json). */
export const ownHttpPort = (service: 'gateway') => portVar(STANDALONE_PORTS[service].http);

/** `<SERVICE>_TARGET` per upstream, each defaulting to what a standalone local run dials: the callee's standalone port. */
export function upstreamTargets<const K extends GrpcService>(services: readonly K[]) {
  return Object.fromEntries(
    services.map((service) => [
      targetVariable(service),
      localDefault(z.string().min(1), `dns:///127.0.0.1:${STANDALONE_PORTS[service].grpc}`),
    ]),
  ) as {
    [P in Uppercase<K> as `${P}_TARGET`]: z.ZodDefault<z.ZodString>;
  };
}

/**
 * The env entries of a gRPC service that calls others: the targets, and `UPSTREAM_TIMEOUT_MS`, the default deadline of
 * every outgoing call (the deadline of the call being served still caps it).
 */
export function upstreamEnv<const K extends GrpcService>(services: readonly K[], timeoutMs = 2_000) {
  return { ...upstreamTargets(services), UPSTREAM_TIMEOUT_MS: millisVar(timeoutMs) };
}
