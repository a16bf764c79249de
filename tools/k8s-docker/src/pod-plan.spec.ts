import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { admit } from './admission.js';
import { nodeFor } from './cluster.js';
import { Backoff } from './kubelet.js';
import type { Container, KubeObject, PodSpec } from './objects.js';
import { ContainerConfigError, containerEnv, containerResources, containerUser, expand, type NamespaceObjects } from './pod-plan.js';

const pod = {
  name: 'web-1',
  namespace: 'shop',
  uid: 'u-1',
  labels: { app: 'web' },
  annotations: {},
  ip: '10.0.0.7',
  hostIp: '10.0.0.7',
  nodeName: 'docker',
  serviceAccountName: 'web',
};
const secret: KubeObject = {
  apiVersion: 'v1',
  kind: 'Secret',
  metadata: { name: 'db', namespace: 'shop' },
  data: { DATABASE_URL: Buffer.from('postgres://u:p@db:5432/x').toString('base64'), USER: Buffer.from('u').toString('base64') },
};
const objects: NamespaceObjects = {
  secret: (name) => (name === 'db' ? secret : undefined),
  configMap: () => undefined,
  linkedServices: () => [{ name: 'web-front', clusterIP: '10.96.0.9', ports: [{ name: 'http', port: 80 }] }],
};
const spec = (container: Partial<Container>): [Container, PodSpec] => {
  const c = { name: 'web', image: 'web:1', ...container } as Container;
  return [c, { containers: [c] }];
};

describe('a container as the kubelet makes it', () => {
  it('environment: envFrom, then env over it, $(VAR) references, downward API; service links never override', () => {
    const [c, s] = spec({
      envFrom: [{ secretRef: { name: 'db' } }],
      env: [
        { name: 'USER', value: 'override' },
        { name: 'WEB_FRONT_SERVICE_HOST', value: 'mine' },
        { name: 'GREETING', value: 'hello $(USER) from $(POD_NAME), $$(USER) stays' },
        { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
        { name: 'APP', valueFrom: { fieldRef: { fieldPath: "metadata.labels['app']" } } },
      ],
    });
    const env = containerEnv(c, s, pod, objects);
    assert.equal(env.DATABASE_URL, 'postgres://u:p@db:5432/x');
    assert.equal(env.USER, 'override');
    assert.equal(env.WEB_FRONT_SERVICE_HOST, 'mine', 'a declared variable wins over the service link');
    assert.equal(env.WEB_FRONT_PORT, 'tcp://10.96.0.9:80');
    assert.equal(env.KUBERNETES_SERVICE_HOST, '10.96.0.1');
    // POD_NAME is defined after GREETING: as in Kubernetes, a reference to a later variable stays as written.
    assert.equal(env.GREETING, 'hello override from $(POD_NAME), $(USER) stays');
    assert.equal(env.POD_NAME, 'web-1');
    assert.equal(env.APP, 'web');
    const [c2, s2] = spec({});
    assert.equal(containerEnv(c2, { ...s2, enableServiceLinks: false }, pod, objects).WEB_FRONT_PORT, undefined);
  });

  it('a reference to a missing Secret or key is CreateContainerConfigError with the kubelet message', () => {
    const [c, s] = spec({ env: [{ name: 'X', valueFrom: { secretKeyRef: { name: 'db', key: 'PASSWORD' } } }] });
    assert.throws(() => containerEnv(c, s, pod, objects), new ContainerConfigError("couldn't find key PASSWORD in Secret shop/db"));
    const [c2, s2] = spec({ envFrom: [{ secretRef: { name: 'nope' } }] });
    assert.throws(() => containerEnv(c2, s2, pod, objects), /secret "nope" not found/);
    const [c3, s3] = spec({ env: [{ name: 'X', valueFrom: { secretKeyRef: { name: 'db', key: 'PASSWORD', optional: true } } }] });
    assert.equal(containerEnv(c3, s3, pod, objects).X, undefined);
  });

  it('runAsNonRoot is checked against the image user, as the kubelet checks it', () => {
    const image = (user: string) => ({ id: 'x', user });
    const [c, s] = spec({ securityContext: { runAsNonRoot: true } });
    assert.throws(() => containerUser(c, s, image(''), 'web-1'), /container has runAsNonRoot and image will run as root/);
    assert.throws(
      () => containerUser(c, s, image('postgres'), 'web-1'),
      /image has non-numeric user \(postgres\), cannot verify user is non-root/,
    );
    assert.equal(containerUser(c, s, image('10001:10001'), 'web-1'), undefined, 'the image user runs');
    const [c2, s2] = spec({ securityContext: { runAsNonRoot: true, runAsUser: 0 } });
    assert.throws(() => containerUser(c2, s2, image('10001'), 'web-1'), /runAsUser breaks non-root policy/);
    const [c3] = spec({});
    assert.equal(
      containerUser(c3, { containers: [c3], securityContext: { runAsUser: 999, runAsGroup: 999 } }, image(''), 'web-1'),
      '999:999',
    );
  });

  it('CPU limit → a CFS quota, request → cpu.shares, memory limit → the cgroup limit', () => {
    const [c] = spec({ resources: { requests: { cpu: '250m', memory: '128Mi' }, limits: { cpu: '1', memory: '256Mi' } } });
    assert.deepEqual(containerResources(c), { cpuQuotaMilli: 1000, cpuShares: 256, memoryBytes: 256 * 2 ** 20 });
    const [only] = spec({ resources: { limits: { cpu: '500m' } } });
    assert.equal(containerResources(only).cpuShares, 512, 'a limit without a request is the request');
  });

  it('expands $(VAR) in command and args, and leaves unknown references as written', () => {
    assert.equal(expand('--port=$(PORT) $(MISSING) $$HOME', { PORT: '80' }), '--port=80 $(MISSING) $HOME');
  });

  it('restarts a crashing container after 0, 10, 20, 40 … 300 s (measured from each exit), reset after 10 crash-free minutes', () => {
    const b = new Backoff(10_000, 300_000);
    let t = 0;
    const waits: number[] = [];
    for (let i = 0; i < 8; i++) {
      const wait = b.next(t, t);
      waits.push(wait);
      t += wait;
      b.record(t, t);
      t += 1_000; // it runs a second, then crashes again
    }
    assert.deepEqual(waits, [0, 10_000, 20_000, 40_000, 80_000, 160_000, 300_000, 300_000]);
    assert.equal(b.next(t, t + 4_000), 296_000, 'the wait counts from the exit, not from when the kubelet looks');
    t += 11 * 60_000;
    assert.equal(b.next(t, t), 0, 'a container that ran ten minutes restarts at once');
  });
});

describe('admission', () => {
  const deploymentWith = (patch: (pod: Record<string, unknown>) => void): KubeObject => {
    const podSpec: Record<string, unknown> = { containers: [{ name: 'web', image: 'web:1' }] };
    patch(podSpec);
    return {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web', namespace: 'shop' },
      spec: { selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: podSpec } },
    };
  };

  it('refuses a field it does not implement with its path, never ignoring it', () => {
    const result = admit([
      deploymentWith((p) => {
        p.hostNetwork = true;
        (p.containers as Record<string, unknown>[])[0]!.lifecycle = { postStart: { exec: { command: ['true'] } } };
        (p.containers as Record<string, unknown>[])[0]!.resources = { limits: { 'ephemeral-storage': '1Gi' } };
      }),
    ]);
    assert.deepEqual(result.accepted, []);
    assert.deepEqual(result.refused, [
      'Deployment shop/web: spec.template.spec.containers[0].lifecycle.postStart is not implemented by this runtime (refused, not ignored)',
      'Deployment shop/web: spec.template.spec.containers[0].resources.limits.ephemeral-storage is not implemented by this runtime (refused, not ignored)',
      'Deployment shop/web: spec.template.spec.hostNetwork is not implemented by this runtime (refused, not ignored)',
    ]);
  });

  it('refuses values outside what it implements, and kinds it does not know', () => {
    const result = admit([
      deploymentWith((p) => (p.dnsPolicy = 'Default')),
      { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name: 'edge', namespace: 'shop' } },
    ]);
    assert.deepEqual(result.refused, [
      'Deployment shop/web: spec.template.spec.dnsPolicy: only "ClusterFirst" is implemented by this runtime, got "Default"',
      'Ingress shop/edge: kind Ingress (networking.k8s.io/v1) is not implemented by this runtime',
    ]);
  });

  it('lists what it accepts but does not enforce: network policies, scheduling fields', () => {
    const result = admit([
      deploymentWith((p) => (p.topologySpreadConstraints = [{ maxSkew: 1 }])),
      { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'deny', namespace: 'shop' } },
    ]);
    assert.equal(result.refused.length, 0);
    assert.equal(result.accepted.length, 1);
    assert.equal(result.notEnforced.length, 2);
    assert.match(result.notEnforced[0]!, /topologySpreadConstraints is not enforced here \(one Docker host is one node/);
    assert.match(result.notEnforced[1]!, /NetworkPolicy shop\/deny: not enforced here/);
  });

  it('acts on CPU autoscalers and refuses one on another metric, with its path', () => {
    const hpa = (metric: Record<string, unknown>) => ({
      apiVersion: 'autoscaling/v2',
      kind: 'HorizontalPodAutoscaler',
      metadata: { name: 'web', namespace: 'shop' },
      spec: {
        scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' },
        minReplicas: 2,
        maxReplicas: 5,
        metrics: [metric],
      },
    });
    const cpu = admit([hpa({ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } } })]);
    assert.deepEqual([cpu.accepted.length, cpu.refused, cpu.notEnforced], [1, [], []]);
    const memory = admit([
      hpa({ type: 'Resource', resource: { name: 'memory', target: { type: 'Utilization', averageUtilization: 70 } } }),
    ]);
    assert.deepEqual(memory.refused, [
      'HorizontalPodAutoscaler shop/web: spec.metrics[0].resource.name: only "cpu" is implemented by this runtime, got "memory"',
    ]);
  });
});

describe('nodes declared as CPU sets', () => {
  const nodes = [
    { name: 'fixed', labels: { pool: 'fixed', zone: 'a' }, cpus: '0' },
    { name: 'stepped', labels: { pool: 'stepped', zone: 'a' }, cpus: '1' },
  ];
  it('places a pod on the first node whose labels satisfy every entry of its nodeSelector', () => {
    assert.equal(nodeFor(nodes, { pool: 'stepped' })?.cpus, '1');
    assert.equal(nodeFor(nodes, { zone: 'a', pool: 'fixed' })?.cpus, '0');
  });
  it('places none without a selector, or where one entry matches no node', () => {
    assert.equal(nodeFor(nodes, undefined), undefined);
    assert.equal(nodeFor(nodes, {}), undefined);
    assert.equal(nodeFor(nodes, { pool: 'stepped', zone: 'b' }), undefined);
  });
});
