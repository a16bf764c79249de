import type { K8sObject } from './render.js';

/** Kinds that live outside any namespace. */
const CLUSTER_SCOPED = new Set([
  'Namespace',
  'ClusterRole',
  'ClusterRoleBinding',
  'PersistentVolume',
  'StorageClass',
  'CustomResourceDefinition',
  'PriorityClass',
]);

/** The variables whose value names another workload, and how to read the host out of each. */
const ADDRESS_VARIABLES: { match: (name: string) => boolean; host: (value: string) => string | undefined }[] = [
  { match: (n) => n.endsWith('_TARGET'), host: (v) => /^dns:\/\/\/([^:/]+)(?::\d+)?$/.exec(v)?.[1] },
  { match: (n) => n === 'DATABASE_URL', host: (v) => /^postgres(?:ql)?:\/\/(?:[^@/]*@)?([^:/?]+)/.exec(v)?.[1] },
  { match: (n) => n === 'OTEL_EXPORTER_OTLP_ENDPOINT', host: (v) => /^https?:\/\/([^:/]+)/.exec(v)?.[1] },
];

/** `svc`, `svc.ns`, `svc.ns.svc`, `svc.ns.svc.cluster.local` → the Service and namespace a pod in `own` reaches. */
function serviceOf(host: string, own: string): { service: string; namespace: string } | undefined {
  const labels = host.split('.');
  if (/^\d+$/.test(labels[labels.length - 1] ?? '')) return undefined; // an IP address: not a cluster name
  if (labels.length === 1) return { service: labels[0]!, namespace: own };
  if (
    labels.length === 2 ||
    (labels.length === 3 && labels[2] === 'svc') ||
    (labels.length === 5 && labels.slice(2).join('.') === 'svc.cluster.local')
  )
    return { service: labels[0]!, namespace: labels[1]! };
  return undefined;
}

const decode = (value: string) => Buffer.from(value.replace(/\s+/g, ''), 'base64').toString('utf8');

/**
 * The two mistakes an overlay's render hides until it runs: an object outside the overlay's namespace (a component's
 * objects without one land in `default`), and an address a container is given (`*_TARGET`, `DATABASE_URL`'s host,
 * `OTEL_EXPORTER_OTLP_ENDPOINT`) that names no Service of the namespace it resolves in — as the pod's DNS search path
 * resolves a short name in the pod's own namespace.
 */
export function addressProblems(objects: readonly K8sObject[]): string[] {
  const problems: string[] = [];
  const namespaces = objects.filter((o) => o.kind === 'Namespace').map((o) => o.metadata.name);
  const expected = namespaces.length === 1 ? namespaces[0]! : undefined;
  const nsOf = (o: K8sObject) => o.metadata.namespace ?? 'default';
  if (expected) {
    for (const o of objects) {
      if (CLUSTER_SCOPED.has(o.kind)) continue;
      if (nsOf(o) !== expected)
        problems.push(
          `${o.kind}/${o.metadata.name}: in namespace ${o.metadata.namespace ?? '(none, so default)'}, but the overlay's namespace is ${expected} (set namespace: in the overlay's kustomization)`,
        );
      for (const subject of (o.kind === 'RoleBinding' ? o.subjects : []) ?? [])
        if (subject.kind === 'ServiceAccount' && (subject.namespace ?? nsOf(o)) !== expected)
          problems.push(
            `${o.kind}/${o.metadata.name}: binds ServiceAccount ${subject.name} of namespace ${subject.namespace ?? '(none)'}, not ${expected}`,
          );
    }
  }
  const services = new Set(objects.filter((o) => o.kind === 'Service').map((o) => `${nsOf(o)}/${o.metadata.name}`));
  const secrets = new Map(objects.filter((o) => o.kind === 'Secret').map((o) => [`${nsOf(o)}/${o.metadata.name}`, o]));
  for (const w of objects.filter((o) => ['Deployment', 'StatefulSet', 'DaemonSet', 'Job'].includes(o.kind))) {
    const ns = nsOf(w);
    for (const c of w.spec?.template?.spec?.containers ?? []) {
      const values: [string, string | undefined][] = [];
      for (const e of (c.env ?? []) as { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[]) {
        const ref = e.valueFrom?.secretKeyRef;
        const fromSecret = ref ? secrets.get(`${ns}/${ref.name}`)?.data?.[ref.key] : undefined;
        values.push([e.name, e.value ?? (fromSecret ? decode(fromSecret) : undefined)]);
      }
      for (const from of (c.envFrom ?? []) as { secretRef?: { name: string } }[]) {
        const secret = from.secretRef ? secrets.get(`${ns}/${from.secretRef.name}`) : undefined;
        for (const [k, v] of Object.entries((secret?.data ?? {}) as Record<string, string>)) values.push([k, decode(v)]);
      }
      for (const [name, value] of values) {
        const kind = ADDRESS_VARIABLES.find((a) => a.match(name));
        const host = value && kind?.host(value);
        if (!host) continue;
        const target = serviceOf(host, ns);
        if (target && !services.has(`${target.namespace}/${target.service}`))
          problems.push(
            `${w.kind}/${w.metadata.name} container ${c.name}: ${name} names ${host}, which resolves to Service ${target.service} in namespace ${target.namespace}; there is none (a pod of namespace ${ns} resolves a short name in its own namespace)`,
          );
      }
    }
  }
  return problems;
}
