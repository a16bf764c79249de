import type { ServiceDeclaration, ServiceRegistry } from '@strata/service-registry';
import type { K8sObject } from './render.js';

type Peer = { podSelector?: { matchLabels?: Record<string, string> }; namespaceSelector?: unknown };
type Rule = { from?: Peer[]; to?: Peer[]; ports?: { port: number }[] };

const peerNames = (rules: Rule[] | undefined, side: 'from' | 'to'): string[] =>
  (rules ?? [])
    .flatMap((rule) => (rule[side] ?? []).map((peer) => peer.podSelector?.matchLabels?.['app.kubernetes.io/name'] ?? '*'))
    .sort();
const sameSet = (a: readonly string[], b: readonly string[]) =>
  JSON.stringify([...new Set(a)].sort()) === JSON.stringify([...new Set(b)].sort());

/**
 * Where a rendered overlay disagrees with what Strata declares (apps/<name>/service.json) or serves (proto/): each
 * declared service has its Deployment, with the declared layer label, a readiness probe that asks for a service of its
 * contract, and one `<NAME>_TARGET` per declared callee (and none other); every Deployment is a declared service (or
 * the data layer); and, where network policies are rendered, each service admits exactly its callers and reaches
 * exactly its callees. Ports, resources and probes are not compared with anything: the manifests are their one home.
 */
export function declarationProblems(objects: readonly K8sObject[], registry: ServiceRegistry, requireNetworkPolicies: boolean): string[] {
  const problems: string[] = [];
  const find = (kind: string, name: string) => objects.find((o) => o.kind === kind && o.metadata.name === name);
  // Every Deployment but those of the opt-in observability component is a service of Strata's.
  for (const d of objects.filter(
    (o) => o.kind === 'Deployment' && o.metadata.labels?.['app.kubernetes.io/part-of'] !== 'strata-observability',
  )) {
    if (!registry.has(d.metadata.name))
      problems.push(`Deployment/${d.metadata.name}: no apps/${d.metadata.name}/service.json declares this service`);
  }
  for (const s of registry.services) {
    const id = `Deployment/${s.name}`;
    const deployment = find('Deployment', s.name);
    if (!deployment) {
      problems.push(
        `${id}: declared in apps/${s.name}/service.json but not in k8s/base (add k8s/base/${s.name} to k8s/base/kustomization.yaml)`,
      );
      continue;
    }
    const labels = deployment.spec?.template?.metadata?.labels ?? {};
    if (labels['app.kubernetes.io/component'] !== s.layer)
      problems.push(`${id}: component label ${labels['app.kubernetes.io/component']}, declared layer ${s.layer}`);
    const container = deployment.spec?.template?.spec?.containers?.[0] ?? {};
    // Readiness must ask for what the service serves: a service of its .proto contract (not a copy of a declaration).
    const asked = container.readinessProbe?.grpc?.service;
    if (s.contract && !s.contract.services.includes(asked)) {
      problems.push(
        `${id}: readiness asks for ${asked ?? 'nothing'}, which ${s.name}'s contract (${s.contract.services.join(', ')}) does not serve`,
      );
    }
    const env: { name: string; value?: string; valueFrom?: unknown }[] = container.env ?? [];
    const dialled = env.filter((e) => e.name.endsWith('_TARGET')).map((e) => /^dns:\/\/\/([a-z0-9-]+):/.exec(e.value ?? '')?.[1] ?? e.name);
    if (!sameSet(dialled, s.calls))
      problems.push(`${id}: dials ${dialled.join(', ') || 'nothing'}, declared calls ${s.calls.join(', ') || 'nothing'}`);
    if (s.data.includes('postgres') && !env.some((e) => e.name === 'DATABASE_URL'))
      problems.push(`${id}: declares data postgres but has no DATABASE_URL`);
    if (requireNetworkPolicies) problems.push(...policyProblems(s, registry, find('NetworkPolicy', s.name)));
  }
  return problems;
}

function policyProblems(s: ServiceDeclaration, registry: ServiceRegistry, policy: K8sObject | undefined): string[] {
  const id = `NetworkPolicy/${s.name}`;
  if (!policy) return [`${id}: missing (k8s/components/network-policies/${s.name}.yaml)`];
  const problems: string[] = [];
  const callers = registry.callersOf(s.name).map((c) => c.name);
  const admitted = peerNames(policy.spec?.ingress, 'from');
  if (s.layer === 'edge') {
    if (!admitted.includes('*') && (policy.spec?.ingress ?? []).length > 0 && admitted.length > 0)
      problems.push(`${id}: the edge is called from outside; its ingress must not be limited to pods`);
  } else if (!sameSet(admitted, callers)) {
    problems.push(`${id}: admits ${admitted.join(', ') || 'nobody'}, but its callers are ${callers.join(', ') || 'none'}`);
  }
  const reached = peerNames(policy.spec?.egress, 'to');
  const expected = [...s.calls, ...s.data];
  if (!sameSet(reached, expected))
    problems.push(`${id}: reaches ${reached.join(', ') || 'nothing'}, but it calls ${expected.join(', ') || 'nothing'}`);
  return problems;
}
