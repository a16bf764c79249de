import { z } from 'zod';

/** A service name: what the app folder, the Deployment, the DNS name and `<NAME>_TARGET` are called. */
export const SERVICE_NAME = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;
export const LAYERS = ['edge', 'composite', 'leaf'] as const;
export type Layer = (typeof LAYERS)[number];

const quantity = z.string().regex(/^\d+(\.\d+)?(m|Mi|Gi|Ki)?$/, 'a Kubernetes quantity such as "250m" or "128Mi"');
const resources = z.object({ cpu: quantity, memory: quantity }).strict();
const port = z.number().int().min(1).max(65535);

/**
 * One service, declared once, next to its app (`apps/<name>/service.json`). Every tool reads this: the local cluster,
 * the container topology, the capacity experiment, the image scripts, the k8s checks, the startup report, the lint
 * rules and the generator. The k8s base is written to agree with it, and `npm run k8s:validate` checks that it does.
 */
export const serviceDeclaration = z
  .object({
    name: z.string().regex(SERVICE_NAME, 'lower-case letters and digits, words joined by "-" (it becomes a DNS name)').max(40),
    layer: z.enum(LAYERS),
    description: z.string().min(10),
    /** Who owns the service's room (CODEOWNERS). */
    owners: z.array(z.string().regex(/^@[\w.-]+(\/[\w.-]+)?$/, 'a GitHub user or @org/team')).min(1),
    /** The gRPC contract the service serves; the edge serves HTTP and has none. */
    contract: z
      .object({
        package: z.string().regex(/^strata\.[a-z0-9_]+\.v\d+$/, 'strata.<service>.v<N>'),
        services: z.array(z.string().regex(/^strata\.[a-z0-9_]+\.v\d+\.[A-Z]\w*$/)).min(1),
      })
      .strict()
      .optional(),
    /** Services this one calls (each dialled as `<NAME>_TARGET`). */
    calls: z.array(z.string().regex(SERVICE_NAME)).default([]),
    /** Stateful backing services it owns (the data layer): only "postgres" so far. */
    data: z.array(z.enum(['postgres'])).default([]),
    /** Ports inside a container or pod. The edge serves HTTP and its metrics on `http`. */
    ports: z.object({ grpc: port.optional(), http: port.optional(), metrics: port.optional() }).strict(),
    /** Default ports of the app when run alone (its env defaults). */
    standalonePorts: z.object({ grpc: port.optional(), http: port.optional(), metrics: port.optional() }).strict(),
    resources: z.object({ requests: resources, limits: resources }).strict(),
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
    const issue = (message: string, path: (string | number)[]) => ctx.addIssue({ code: 'custom', message, path });
    if (d.layer === 'edge') {
      if (d.ports.http === undefined) issue('the edge serves HTTP: ports.http is required', ['ports', 'http']);
    } else {
      if (!d.contract) issue(`a ${d.layer} service serves a gRPC contract: contract is required`, ['contract']);
      if (d.ports.grpc === undefined || d.ports.metrics === undefined)
        issue('a gRPC service needs ports.grpc and ports.metrics', ['ports']);
      const pkg = `strata.${d.name.replace(/-/g, '_')}.v`;
      if (d.contract && !d.contract.package.startsWith(pkg))
        issue(`the contract package of ${d.name} is ${pkg}<N>`, ['contract', 'package']);
      // Several versions may be served side by side during a deliberate break (v1 and v2): every one is the service's.
      for (const [i, service] of (d.contract?.services ?? []).entries()) {
        if (!service.startsWith(pkg))
          issue(`${service} is not a version of ${d.name}'s contract (${pkg}<N>.…)`, ['contract', 'services', i]);
      }
    }
    if (d.calls.includes(d.name)) issue('a service does not call itself', ['calls']);
  });

export type ServiceDeclaration = z.infer<typeof serviceDeclaration>;
