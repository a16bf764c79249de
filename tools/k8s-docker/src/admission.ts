import { describe, type KubeObject } from './objects.js';

/**
 * What the runtime accepts, field by field. Every field of an applied object must appear here: a field outside this
 * tree is refused with its path, never silently ignored (the runtime would otherwise run something other than what
 * the manifest says). A field that is accepted but has no effect on one Docker host (scheduling, API access) is
 * `notEnforced`, and listed when the object is applied.
 */
type Spec = true | { readonly [field: string]: Spec } | readonly [Spec] | NotEnforced | Check;

class NotEnforced {
  constructor(readonly why: string) {}
}
/** A leaf whose value must pass `test`; `allowed` says what is implemented. */
class Check {
  constructor(
    readonly test: (value: unknown) => boolean,
    readonly allowed: string,
  ) {}
}
const notEnforced = (why: string) => new NotEnforced(why);
const oneOf = (...values: unknown[]) =>
  new Check((v) => values.includes(v), `only ${values.map((v) => JSON.stringify(v)).join(' or ')} is implemented`);

const SCHEDULING = 'one Docker host is one node: there is nothing to schedule across';
const API = 'there is no API server here';

const META: Spec = { name: true, namespace: true, labels: true, annotations: true };
const TEMPLATE_META: Spec = { labels: true, annotations: true };
const SECCOMP: Spec = { type: oneOf('RuntimeDefault', 'Unconfined') };
const ACTION_HTTP: Spec = {
  path: true,
  port: true,
  host: true,
  scheme: oneOf('HTTP'),
  httpHeaders: [{ name: true, value: true }],
};
const PROBE: Spec = {
  exec: { command: true },
  httpGet: ACTION_HTTP,
  tcpSocket: { port: true, host: true },
  grpc: { port: true, service: true },
  initialDelaySeconds: true,
  periodSeconds: true,
  timeoutSeconds: true,
  successThreshold: true,
  failureThreshold: true,
  terminationGracePeriodSeconds: true,
};
const KEY_REF: Spec = { name: true, key: true, optional: true };
const SCALING_RULES: Spec = {
  stabilizationWindowSeconds: true,
  selectPolicy: oneOf('Max', 'Min', 'Disabled'),
  policies: [{ type: oneOf('Pods', 'Percent'), value: true, periodSeconds: true }],
};
const CONTAINER: Spec = {
  name: true,
  image: true,
  imagePullPolicy: oneOf('Always', 'IfNotPresent', 'Never'),
  command: true,
  args: true,
  workingDir: true,
  env: [
    {
      name: true,
      value: true,
      valueFrom: {
        secretKeyRef: KEY_REF,
        configMapKeyRef: KEY_REF,
        fieldRef: { fieldPath: true, apiVersion: true },
        resourceFieldRef: { resource: true, containerName: true, divisor: true },
      },
    },
  ],
  envFrom: [{ prefix: true, secretRef: { name: true, optional: true }, configMapRef: { name: true, optional: true } }],
  ports: [{ name: true, containerPort: true, protocol: oneOf('TCP') }],
  resources: { requests: { cpu: true, memory: true }, limits: { cpu: true, memory: true } },
  volumeMounts: [{ name: true, mountPath: true, subPath: true, readOnly: true }],
  startupProbe: PROBE,
  readinessProbe: PROBE,
  livenessProbe: PROBE,
  lifecycle: { preStop: { exec: { command: true }, httpGet: ACTION_HTTP, sleep: { seconds: true } } },
  securityContext: {
    runAsUser: true,
    runAsGroup: true,
    runAsNonRoot: true,
    readOnlyRootFilesystem: true,
    allowPrivilegeEscalation: true,
    privileged: oneOf(false),
    capabilities: { add: true, drop: true },
    seccompProfile: SECCOMP,
  },
  terminationMessagePath: notEnforced('the termination message is read from the container log instead'),
  terminationMessagePolicy: notEnforced('the termination message is read from the container log instead'),
};
const ITEMS: Spec = [{ key: true, path: true, mode: true }];
const POD_SPEC: Spec = {
  containers: [CONTAINER],
  initContainers: [CONTAINER],
  volumes: [
    {
      name: true,
      emptyDir: { medium: oneOf('', 'Memory'), sizeLimit: true },
      secret: { secretName: true, items: ITEMS, defaultMode: true, optional: true },
      configMap: { name: true, items: ITEMS, defaultMode: true, optional: true },
      persistentVolumeClaim: { claimName: true, readOnly: true },
      hostPath: { path: true, type: oneOf('', 'Directory', 'File', 'DirectoryOrCreate') },
    },
  ],
  restartPolicy: oneOf('Always', 'OnFailure', 'Never'),
  terminationGracePeriodSeconds: true,
  securityContext: {
    runAsUser: true,
    runAsGroup: true,
    runAsNonRoot: true,
    fsGroup: true,
    supplementalGroups: true,
    seccompProfile: SECCOMP,
  },
  hostname: true,
  subdomain: true,
  enableServiceLinks: true,
  dnsPolicy: oneOf('ClusterFirst'),
  serviceAccountName: notEnforced(`${API}: no ServiceAccount token is mounted`),
  automountServiceAccountToken: notEnforced(`${API}: no ServiceAccount token is mounted`),
  affinity: notEnforced(SCHEDULING),
  topologySpreadConstraints: notEnforced(SCHEDULING),
  nodeSelector: notEnforced(`${SCHEDULING} (unless a run declares nodes as CPU sets: ClusterOptions.nodes)`),
  tolerations: notEnforced(SCHEDULING),
  priorityClassName: notEnforced(SCHEDULING),
};
const POD_TEMPLATE: Spec = { metadata: TEMPLATE_META, spec: POD_SPEC };
const SELECTOR: Spec = { matchLabels: true, matchExpressions: [{ key: true, operator: true, values: true }] };
/** What a Deployment and a StatefulSet share: replicas of a pod template, chosen by a selector. */
const WORKLOAD = {
  apiVersion: true,
  kind: true,
  metadata: META,
  spec: { replicas: true, selector: SELECTOR, template: POD_TEMPLATE },
} satisfies Spec;

/** Kinds the runtime acts on, with every field it implements. */
const KINDS: Record<string, Spec> = {
  'v1/Namespace': { apiVersion: true, kind: true, metadata: META },
  'v1/ConfigMap': { apiVersion: true, kind: true, metadata: META, data: true, immutable: true },
  'v1/Secret': { apiVersion: true, kind: true, metadata: META, type: true, data: true, stringData: true, immutable: true },
  'v1/Service': {
    apiVersion: true,
    kind: true,
    metadata: META,
    spec: {
      type: oneOf('ClusterIP', 'NodePort'),
      clusterIP: true,
      selector: true,
      ports: [{ name: true, port: true, targetPort: true, protocol: oneOf('TCP'), appProtocol: true, nodePort: true }],
      publishNotReadyAddresses: true,
      sessionAffinity: oneOf('None'),
    },
  },
  'v1/Pod': { apiVersion: true, kind: true, metadata: META, spec: POD_SPEC },
  'apps/v1/Deployment': {
    ...WORKLOAD,
    spec: {
      ...WORKLOAD.spec,
      strategy: { type: oneOf('RollingUpdate', 'Recreate'), rollingUpdate: { maxSurge: true, maxUnavailable: true } },
      minReadySeconds: true,
      revisionHistoryLimit: true,
      progressDeadlineSeconds: true,
    },
  },
  // Acted on by the node's HPA controller (autoscaling.ts): CPU utilization only, as @strata/autoscaler models it.
  'autoscaling/v2/HorizontalPodAutoscaler': {
    apiVersion: true,
    kind: true,
    metadata: META,
    spec: {
      scaleTargetRef: { apiVersion: oneOf('apps/v1'), kind: oneOf('Deployment'), name: true },
      minReplicas: true,
      maxReplicas: true,
      metrics: [
        { type: oneOf('Resource'), resource: { name: oneOf('cpu'), target: { type: oneOf('Utilization'), averageUtilization: true } } },
      ],
      behavior: { scaleUp: SCALING_RULES, scaleDown: SCALING_RULES },
    },
  },
  'apps/v1/StatefulSet': {
    ...WORKLOAD,
    spec: {
      ...WORKLOAD.spec,
      serviceName: true,
      podManagementPolicy: oneOf('OrderedReady', 'Parallel'),
      updateStrategy: { type: oneOf('RollingUpdate', 'OnDelete'), rollingUpdate: { partition: true } },
      volumeClaimTemplates: [
        {
          metadata: { name: true, labels: true, annotations: true },
          spec: { accessModes: true, resources: { requests: { storage: true } }, storageClassName: true, volumeMode: oneOf('Filesystem') },
        },
      ],
      minReadySeconds: true,
      revisionHistoryLimit: true,
    },
  },
};

/** Kinds that only a control plane or a network plugin would act on: accepted and listed, never acted on here. */
const NOT_ACTED_ON: Record<string, string> = {
  NetworkPolicy: 'no network plugin here: every pod reaches every other (minikube with --cni=calico enforces them)',
  Role: API,
  RoleBinding: API,
  ClusterRole: API,
  ClusterRoleBinding: API,
  ServiceAccount: `${API}: no token is mounted`,
  PodDisruptionBudget: 'no voluntary evictions here (no node drains)',
};

export interface Admission {
  /** Objects the runtime acts on. */
  accepted: KubeObject[];
  /** One line per object or field accepted but not enforced here. */
  notEnforced: string[];
  /** One line per field or object that is not implemented; any refusal refuses the whole apply. */
  refused: string[];
}

/** Checks every object of a render against what the runtime implements. */
export function admit(objects: readonly KubeObject[]): Admission {
  const result: Admission = { accepted: [], notEnforced: [], refused: [] };
  for (const object of objects) {
    const id = describe(object);
    const spec = KINDS[`${object.apiVersion}/${object.kind}`];
    if (spec) {
      const before = result.refused.length;
      walk(object, spec, '', id, result);
      if (result.refused.length === before) result.accepted.push(object);
    } else if (NOT_ACTED_ON[object.kind]) {
      result.notEnforced.push(`${id}: not enforced here (${NOT_ACTED_ON[object.kind]})`);
    } else {
      result.refused.push(`${id}: kind ${object.kind} (${object.apiVersion}) is not implemented by this runtime`);
    }
  }
  // One line per reason and field path, not one per object: the list stays readable for a whole overlay.
  result.notEnforced = [...new Set(result.notEnforced)];
  return result;
}

function walk(value: unknown, spec: Spec, path: string, id: string, out: Admission): void {
  if (spec === true || value === undefined || value === null) return;
  if (spec instanceof NotEnforced) {
    out.notEnforced.push(`${id}: ${path} is not enforced here (${spec.why})`);
    return;
  }
  if (spec instanceof Check) {
    if (!spec.test(value)) out.refused.push(`${id}: ${path}: ${spec.allowed} by this runtime, got ${JSON.stringify(value)}`);
    return;
  }
  if (Array.isArray(spec)) {
    if (!Array.isArray(value)) return;
    value.forEach((item, i) => walk(item, spec[0]!, `${path}[${i}]`, id, out));
    return;
  }
  if (typeof value !== 'object') return;
  for (const [field, child] of Object.entries(value as Record<string, unknown>)) {
    const childPath = path ? `${path}.${field}` : field;
    const childSpec = (spec as Record<string, Spec>)[field];
    if (childSpec === undefined) out.refused.push(`${id}: ${childPath} is not implemented by this runtime (refused, not ignored)`);
    else walk(child, childSpec, childPath, id, out);
  }
}
