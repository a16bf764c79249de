import type { K8sObject } from './render.js';

const LAYERS = ['edge', 'composite', 'leaf', 'data'];
/** `app.kubernetes.io/part-of` of the opt-in observability component's pods. */
const OBSERVABILITY = 'strata-observability';
const READ_VERBS = new Set(['get', 'list', 'watch']);

/**
 * Whether a ServiceAccount that mounts a token is bound only to namespaced Roles that read (get, list, watch) and
 * nothing else: what Prometheus's pod discovery needs, and no more.
 */
function readOnlyAccount(objects: readonly K8sObject[], account: string | undefined): boolean {
  if (!account) return false;
  const bindings = objects.filter(
    (o) =>
      (o.kind === 'RoleBinding' || o.kind === 'ClusterRoleBinding') &&
      (o.subjects ?? []).some((s: { kind: string; name: string }) => s.kind === 'ServiceAccount' && s.name === account),
  );
  return (
    bindings.length > 0 &&
    bindings.every((b) => {
      if (b.kind !== 'RoleBinding' || b.roleRef?.kind !== 'Role') return false;
      const role = objects.find((o) => o.kind === 'Role' && o.metadata.name === b.roleRef.name);
      return !!role && (role.rules ?? []).every((r: { verbs: string[] }) => r.verbs.every((v) => READ_VERBS.has(v)));
    })
  );
}
const PROBES = ['startupProbe', 'readinessProbe', 'livenessProbe'] as const;

/**
 * Strata's rules for a rendered overlay. Each returns human-readable violations: "Deployment/catalog: …".
 * They encode the promises of the README: per-call balancing (headless gRPC Services, dns:/// targets),
 * availability (probes, maxUnavailable 0, PDB, a grace period longer than the drain), scaling (HPA, limits),
 * and least privilege (securityContext, no token, network policies).
 */
/** An immutable image reference: strata/<name>:<12 hex digits of its content hash>, or pinned by digest. */
const IMMUTABLE_IMAGE = /(:[0-9a-f]{12}|@sha256:[0-9a-f]{64})$/;

export function policyViolations(
  objects: readonly K8sObject[],
  options: { requireNetworkPolicies: boolean; requireImmutableImages?: boolean },
): string[] {
  const problems: string[] = [];
  const byKind = (kind: string) => objects.filter((o) => o.kind === kind);
  const services = byKind('Service');
  const allWorkloads = [...byKind('Deployment'), ...byKind('StatefulSet')];
  // The opt-in observability component (Prometheus, collector, Jaeger, Grafana) is held to the same pod hygiene, but it
  // is no layer of Strata: no layer label, PDB, HPA or declared replicas, and Prometheus may read pods through the API.
  const isObservability = (w: K8sObject) => w.spec?.template?.metadata?.labels?.['app.kubernetes.io/part-of'] === OBSERVABILITY;
  const workloads = allWorkloads.filter((w) => !isObservability(w));
  const deployments = workloads.filter((w) => w.kind === 'Deployment');

  for (const w of allWorkloads) {
    const id = `${w.kind}/${w.metadata.name}`;
    const pod = w.spec?.template?.spec ?? {};
    const labels = w.spec?.template?.metadata?.labels ?? {};
    if (labels['app.kubernetes.io/name'] !== w.metadata.name)
      problems.push(`${id}: pod label app.kubernetes.io/name must be ${w.metadata.name}`);
    // A ConfigMap or Secret mounted with subPath never receives an edit (the kubelet updates only whole-volume mounts).
    for (const c of pod.containers ?? [])
      for (const m of (c.volumeMounts ?? []) as { name: string; subPath?: string; mountPath: string }[]) {
        const volume = (pod.volumes ?? []).find((v: { name: string }) => v.name === m.name);
        if (m.subPath && (volume?.configMap || volume?.secret))
          problems.push(
            `${id} container ${c.name}: ${m.mountPath} mounts ${m.name} with subPath: an edited ConfigMap or Secret never reaches the pod; mount the folder`,
          );
      }
    if (isObservability(w)) {
      if (pod.automountServiceAccountToken !== false && !readOnlyAccount(objects, pod.serviceAccountName))
        problems.push(`${id}: mounts an API token, but its ServiceAccount is not limited to reading (get, list, watch) in the namespace`);
      // A pod that talks to the API server must be let out to it: the kubernetes Service's 443 and, since network plugins
      // such as Calico evaluate egress after the Service's DNAT, the server's own ports (6443 kubeadm, 8443 minikube).
      if (pod.automountServiceAccountToken !== false && options.requireNetworkPolicies) {
        const policy = byKind('NetworkPolicy').find(
          (p) => p.spec?.podSelector?.matchLabels?.['app.kubernetes.io/name'] === w.metadata.name,
        );
        const ports = new Set(
          ((policy?.spec?.egress ?? []) as { ports?: { port: number }[] }[]).flatMap((e) => (e.ports ?? []).map((p) => p.port)),
        );
        const missing = [443, 6443, 8443].filter((port) => !ports.has(port));
        if (missing.length)
          problems.push(`${id}: reads the Kubernetes API but its NetworkPolicy does not allow egress to port(s) ${missing.join(', ')}`);
      }
    } else {
      if (labels['app.kubernetes.io/part-of'] !== 'strata') problems.push(`${id}: pod label app.kubernetes.io/part-of must be strata`);
      if (!LAYERS.includes(labels['app.kubernetes.io/component']))
        problems.push(`${id}: pod label app.kubernetes.io/component must be one of ${LAYERS.join('|')}`);
      if (pod.automountServiceAccountToken !== false) problems.push(`${id}: automountServiceAccountToken must be false`);
    }
    if (pod.securityContext?.runAsNonRoot !== true) problems.push(`${id}: securityContext.runAsNonRoot must be true`);
    if (pod.securityContext?.seccompProfile?.type !== 'RuntimeDefault') problems.push(`${id}: seccompProfile must be RuntimeDefault`);
    for (const c of pod.containers ?? []) {
      const cid = `${id} container ${c.name}`;
      if (options.requireImmutableImages && String(c.image).startsWith('strata/') && !IMMUTABLE_IMAGE.test(String(c.image)))
        problems.push(`${cid}: image ${c.image} is a mutable tag; a released overlay runs content tags (npm run release writes them)`);
      const sc = c.securityContext ?? {};
      if (sc.runAsUser === 0 || (sc.runAsUser === undefined && pod.securityContext?.runAsUser === 0))
        problems.push(`${cid}: runs as root (runAsUser 0)`);
      if (sc.runAsNonRoot === false) problems.push(`${cid}: runAsNonRoot is false`);
      if (sc.readOnlyRootFilesystem !== true) problems.push(`${cid}: readOnlyRootFilesystem must be true`);
      if (sc.allowPrivilegeEscalation !== false) problems.push(`${cid}: allowPrivilegeEscalation must be false`);
      if (!(sc.capabilities?.drop ?? []).includes('ALL')) problems.push(`${cid}: capabilities must drop ALL`);
      for (const probe of PROBES) if (!c[probe]) problems.push(`${cid}: no ${probe}`);
      // A probe is answered by the process that serves the load: one slow answer must not change the pod's state.
      if (c.readinessProbe && (c.readinessProbe.failureThreshold ?? 3) < 2)
        problems.push(`${cid}: readinessProbe.failureThreshold below 2: one slow answer under load takes the pod out of its Service`);
      for (const probe of PROBES)
        if (c[probe] && (c[probe].timeoutSeconds ?? 1) < 2)
          problems.push(`${cid}: ${probe}.timeoutSeconds below 2 (the default is 1): a busy event loop misses it`);
      for (const r of ['requests', 'limits'])
        for (const res of ['cpu', 'memory']) if (!c.resources?.[r]?.[res]) problems.push(`${cid}: no ${res} ${r.slice(0, -1)}`);
      const isGrpc = (c.ports ?? []).some((p: { name?: string }) => p.name === 'grpc');
      if (isGrpc) {
        for (const probe of PROBES) if (c[probe] && !c[probe].grpc) problems.push(`${cid}: ${probe} must be a native gRPC probe`);
        if (c.readinessProbe?.grpc && !c.readinessProbe.grpc.service)
          problems.push(`${cid}: readinessProbe must name the gRPC service it serves`);
      }
      const env = Object.fromEntries(
        (c.env ?? [])
          .filter((e: { value?: string }) => e.value !== undefined)
          .map((e: { name: string; value: string }) => [e.name, e.value]),
      );
      const drainSeconds = (Number(env.SHUTDOWN_DELAY_MS ?? 0) + Number(env.DRAIN_TIMEOUT_MS ?? 0)) / 1000;
      if (w.kind === 'Deployment' && !((pod.terminationGracePeriodSeconds ?? 30) > drainSeconds)) {
        problems.push(`${id}: terminationGracePeriodSeconds must exceed SHUTDOWN_DELAY_MS + DRAIN_TIMEOUT_MS (${drainSeconds} s)`);
      }
      for (const [name, value] of Object.entries(env)) {
        if (!name.endsWith('_TARGET')) continue;
        const match = /^dns:\/\/\/([a-z0-9-]+):(\d+)$/.exec(String(value));
        const target = match && services.find((s) => s.metadata.name === match[1]);
        if (!match || !target) problems.push(`${cid}: ${name}=${value} must be dns:///<service>:<port> of a Service in this overlay`);
        else if (target.spec?.clusterIP !== 'None') problems.push(`${cid}: ${name} dials ${match[1]}, which is not headless`);
        else if (!(target.spec?.ports ?? []).some((p: { port: number }) => p.port === Number(match[2])))
          problems.push(`${cid}: ${name} dials port ${match[2]}, which ${match[1]} does not expose`);
      }
    }
  }

  for (const d of deployments) {
    const id = `Deployment/${d.metadata.name}`;
    if (d.spec?.strategy?.type !== 'RollingUpdate' || d.spec?.strategy?.rollingUpdate?.maxUnavailable !== 0)
      problems.push(`${id}: rolling update must have maxUnavailable: 0`);
    const selects = (o: K8sObject) => o.spec?.selector?.matchLabels?.['app.kubernetes.io/name'] === d.metadata.name;
    if (!byKind('PodDisruptionBudget').some(selects)) problems.push(`${id}: no PodDisruptionBudget`);
    const hpa = byKind('HorizontalPodAutoscaler').find(
      (h) => h.spec?.scaleTargetRef?.kind === 'Deployment' && h.spec.scaleTargetRef.name === d.metadata.name,
    );
    if (!hpa || hpa.apiVersion !== 'autoscaling/v2') problems.push(`${id}: no autoscaling/v2 HorizontalPodAutoscaler`);
    else if (!(hpa.spec.metrics ?? []).some((m: { resource?: { name?: string } }) => m.resource?.name === 'cpu'))
      problems.push(`${id}: its HPA must scale on CPU`);
    else if (hpa.spec.minReplicas !== (d.spec?.replicas ?? 1))
      problems.push(`${id}: HPA minReplicas ${hpa.spec.minReplicas} differs from the declared replicas ${d.spec?.replicas ?? 1}`);
  }

  for (const s of services) {
    const grpcPorts = (s.spec?.ports ?? []).filter(
      (p: { name?: string; appProtocol?: string }) => p.name === 'grpc' || p.appProtocol === 'grpc',
    );
    if (grpcPorts.length === 0) continue;
    const id = `Service/${s.metadata.name}`;
    if (s.spec?.clusterIP !== 'None') problems.push(`${id}: a gRPC Service must be headless (clusterIP: None) so callers balance per call`);
    for (const p of grpcPorts)
      if (p.name !== 'grpc' || p.appProtocol !== 'grpc') problems.push(`${id}: gRPC port must be named grpc with appProtocol: grpc`);
  }

  for (const sa of byKind('ServiceAccount')) {
    if (sa.automountServiceAccountToken !== false && !readOnlyAccount(objects, sa.metadata.name))
      problems.push(`ServiceAccount/${sa.metadata.name}: automountServiceAccountToken must be false`);
  }

  // orders' database: the base's StatefulSet with a claim, or (components/cloudnative-pg) an operator's Cluster.
  const postgres = byKind('StatefulSet').find((s) => s.metadata.name === 'postgres');
  const operated = objects.find((o) => o.kind === 'Cluster' && o.apiVersion.startsWith('postgresql.cnpg.io/'));
  if (operated) {
    if (!((operated.spec?.instances ?? 1) >= 3))
      problems.push(`Cluster/${operated.metadata.name}: at least 3 instances (a primary and two replicas)`);
    if (operated.spec?.inheritedMetadata?.labels?.['app.kubernetes.io/name'] !== 'postgres')
      problems.push(
        `Cluster/${operated.metadata.name}: its pods must carry app.kubernetes.io/name: postgres (inheritedMetadata), or the network policies miss them`,
      );
  } else if (!postgres) problems.push('StatefulSet/postgres: missing');
  else if (!(postgres.spec?.volumeClaimTemplates ?? []).length)
    problems.push('StatefulSet/postgres: needs a PersistentVolumeClaim template');
  const secret = byKind('Secret').find((s) => s.metadata.name.startsWith('postgres-credentials'));
  if (!secret || !/^postgres-credentials-[a-z0-9]{6,}$/.test(secret.metadata.name))
    problems.push('Secret/postgres-credentials: must come from a secretGenerator (hash-suffixed name)');

  // Dashboards and other JSON shipped in ConfigMaps (the observability component's Grafana dashboard) must parse.
  for (const cm of byKind('ConfigMap')) {
    for (const [key, value] of Object.entries((cm.data ?? {}) as Record<string, string>)) {
      if (!key.endsWith('.json')) continue;
      try {
        const parsed = JSON.parse(value) as { panels?: unknown[] };
        if ('panels' in parsed && !(parsed.panels ?? []).length)
          problems.push(`ConfigMap/${cm.metadata.name}: dashboard ${key} has no panels`);
      } catch (error) {
        problems.push(`ConfigMap/${cm.metadata.name}: ${key} is not valid JSON (${(error as Error).message})`);
      }
    }
  }

  const policies = byKind('NetworkPolicy');
  if (options.requireNetworkPolicies) {
    // A default deny selects every pod of the namespace (podSelector: {}): one selecting by label leaves a pod that
    // lacks the label open.
    const deny = policies.find(
      (p) =>
        (p.spec?.policyTypes ?? []).includes('Ingress') &&
        (p.spec?.policyTypes ?? []).includes('Egress') &&
        !p.spec?.ingress &&
        !p.spec?.egress &&
        Object.keys(p.spec?.podSelector ?? { any: 1 }).length === 0,
    );
    if (!deny) problems.push('NetworkPolicy: no default deny (ingress and egress) selecting every pod of the namespace (podSelector: {})');
    if (
      !policies.some((p) =>
        (p.spec?.egress ?? []).some((e: { ports?: { port: number }[] }) => (e.ports ?? []).some((port) => port.port === 53)),
      )
    )
      problems.push('NetworkPolicy: DNS egress is not allowed');
    const pg = policies.find((p) => p.spec?.podSelector?.matchLabels?.['app.kubernetes.io/name'] === 'postgres');
    const pgFrom = (pg?.spec?.ingress ?? []).flatMap(
      (i: { from?: { podSelector?: { matchLabels?: Record<string, string> } }[] }) => i.from ?? [{}],
    );
    if (!pg || pgFrom.length !== 1 || pgFrom[0]?.podSelector?.matchLabels?.['app.kubernetes.io/name'] !== 'orders')
      problems.push('NetworkPolicy/postgres: must accept traffic from orders only');
    for (const w of allWorkloads) {
      if (!policies.some((p) => p.spec?.podSelector?.matchLabels?.['app.kubernetes.io/name'] === w.metadata.name))
        problems.push(`NetworkPolicy: none for ${w.metadata.name}`);
    }
  }
  problems.push(...namedPortProblems(policies, allWorkloads));
  return problems;
}

/**
 * A policy names the destination's ports (`port: grpc`), so the number has one home, the container's ports: each name
 * must be a container port of the pods it applies to — for ingress the policy's own pods, for egress the pods a rule
 * goes to. A name no such pod has would match nothing, and the path would be closed without a word.
 */
function namedPortProblems(policies: readonly K8sObject[], workloads: readonly K8sObject[]): string[] {
  type Selector = { matchLabels?: Record<string, string> } | undefined;
  type Rule = { ports?: { port?: number | string }[]; to?: { podSelector?: Selector }[] };
  const portNames = (selector: Selector) => {
    const name = selector?.matchLabels?.['app.kubernetes.io/name'];
    const w = workloads.find((o) => o.metadata.name === name);
    return w
      ? new Set<string>(
          (w.spec?.template?.spec?.containers ?? []).flatMap((c: K8sObject) => (c.ports ?? []).map((p: { name?: string }) => p.name)),
        )
      : undefined;
  };
  const problems: string[] = [];
  for (const policy of policies) {
    const id = `NetworkPolicy/${policy.metadata.name}`;
    const check = (rule: Rule, selectors: Selector[], direction: string) => {
      for (const { port } of rule.ports ?? []) {
        if (typeof port !== 'string') continue;
        for (const selector of selectors) {
          const names = portNames(selector);
          const who = selector?.matchLabels?.['app.kubernetes.io/name'] ?? 'its pods';
          if (names && !names.has(port)) problems.push(`${id}: ${direction} names port ${port}, which ${who} does not have`);
        }
      }
    };
    for (const rule of (policy.spec?.ingress ?? []) as Rule[]) check(rule, [policy.spec?.podSelector], 'ingress');
    for (const rule of (policy.spec?.egress ?? []) as Rule[])
      check(
        rule,
        (rule.to ?? []).map((t) => t.podSelector),
        'egress',
      );
  }
  return problems;
}
