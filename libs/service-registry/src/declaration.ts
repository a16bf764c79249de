import { z } from 'zod';

/** A service name: what the app folder, the Deployment, the DNS name and `<NAME>_TARGET` are called. */
export const SERVICE_NAME = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;
export const LAYERS = ['edge', 'composite', 'leaf'] as const;
export type Layer = (typeof LAYERS)[number];

const port = z.number().int().min(1).max(65535);

/**
 * What only Strata knows of one service, next to its app (`apps/<name>/service.json`): its layer, whom it calls, who
 * owns it, how it is loaded and how its capacity is measured. What Kubernetes owns (ports, resources, probes, env) is
 * in k8s/base and read from there (`ServiceRegistry.deployment`); its contract is its .proto files (proto/strata/
 * <name>/v<N>/), read by the registry. Every tool reads services through the registry: the local cluster, the
 * container topology, the capacity experiment, the image scripts, the k8s checks, the lint rules and the generator.
 */
export const serviceDeclaration = z
  .object({
    name: z.string().regex(SERVICE_NAME, 'lower-case letters and digits, words joined by "-" (it becomes a DNS name)').max(40),
    layer: z.enum(LAYERS),
    description: z.string().min(10),
    /** Who owns the service's room (CODEOWNERS). */
    owners: z.array(z.string().regex(/^@[\w.-]+(\/[\w.-]+)?$/, 'a GitHub user or @org/team')).min(1),
    /** Services this one calls (each dialled as `<NAME>_TARGET`). */
    calls: z.array(z.string().regex(SERVICE_NAME)).default([]),
    /** Stateful backing services it owns (the data layer): only "postgres" so far. */
    data: z.array(z.enum(['postgres'])).default([]),
    /** Default ports of the app when run alone on a machine (its env defaults; in a pod the manifests set the ports). */
    standalonePorts: z.object({ grpc: port.optional(), http: port.optional(), metrics: port.optional() }).strict(),
    load: z
      .object({
        /** The module of the scenarios this service limits, shared by k6 and the Node driver. */
        scenarios: z.string().regex(/^loadtests\/scenarios\/[a-z0-9-]+\.js$/),
        /** The k6 scripts in this service's room. */
        k6: z.array(z.string().regex(/^loadtests\/k6\/[a-z0-9-]+\.js$/)),
      })
      .strict(),
    capacity: z
      .object({
        /** The scenario this layer limits (a name exported by a scenarios module). */
        scenario: z.string(),
        /**
         * A scenario that does not touch this service: its p99 must not move as the service scales. Not through the
         * gateway when this layer's load goes through it (the gateway would carry both, and the control would measure
         * the gateway's load): straight to another service over gRPC, as the gateway's own plan does.
         */
        control: z.string(),
        controlRate: z.number().positive(),
        sloP99Ms: z.number().positive(),
        startRate: z.number().positive(),
        /** CPU quota of one replica while this layer is stepped (the k8s limit's role). */
        cpusPerReplica: z.number().positive().max(4),
        /** CPU quota of one replica while another layer is stepped: enough that it never limits. */
        fixedCpus: z.number().positive().max(4),
        /** Concurrency per replica of the stepped layer when its saturation throughput is measured. */
        saturationConcurrencyPerReplica: z.number().int().positive().default(8),
        /** Why this scenario is limited by this layer (shown in the report). */
        why: z.string().min(10),
      })
      .strict(),
  })
  .strict()
  .superRefine((d, ctx) => {
    if (d.calls.includes(d.name)) ctx.addIssue({ code: 'custom', message: 'a service does not call itself', path: ['calls'] });
  });

/** What a service's file declares. */
export type DeclaredService = z.infer<typeof serviceDeclaration>;

/** The gRPC contract a service serves: read from its .proto files, never declared. */
export interface Contract {
  /** The package of its first version: "strata.catalog.v1". */
  package: string;
  /** Every service of every version, oldest version first: ["strata.catalog.v1.CatalogService"]. */
  services: string[];
}

/** A declared service, with the contract its .proto files define (the edge serves HTTP and has none). */
export type ServiceDeclaration = DeclaredService & { contract?: Contract };
