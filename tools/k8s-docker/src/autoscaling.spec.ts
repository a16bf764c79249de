import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NodeAutoscalers, type AutoscalingHost } from './autoscaling.js';
import type { Pod } from './kubelet.js';
import type { KubeObject } from './objects.js';

const NS = 'strata';
const deployment: KubeObject = {
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'recommendations', namespace: NS },
  spec: { replicas: 2, selector: { matchLabels: { app: 'recommendations' } }, template: {} },
};
const hpa: KubeObject = {
  apiVersion: 'autoscaling/v2',
  kind: 'HorizontalPodAutoscaler',
  metadata: { name: 'recommendations', namespace: NS },
  spec: {
    scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'recommendations' },
    minReplicas: 2,
    maxReplicas: 4,
    metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } } }],
  },
};

/** A running, ready pod of the Deployment, started long ago, with one container whose cgroup the test sets. */
function pod(name: string): Pod {
  return {
    namespace: NS,
    name,
    uid: name,
    labels: { app: 'recommendations' },
    annotations: {},
    owner: { kind: 'ReplicaSet', name: 'recommendations-abc' },
    spec: { containers: [{ name: 'main', image: 'x', resources: { requests: { cpu: '500m' }, limits: { cpu: '1' } } }] },
    createdAt: Date.now() - 3_600_000,
    phase: 'Running',
    ready: true,
    readySince: Date.now() - 3_600_000,
    deleting: false,
    claims: {},
    initContainers: [],
    containers: [
      {
        name: 'main',
        image: 'x',
        ready: true,
        started: true,
        restartCount: 0,
        state: { running: { startedAt: '' } },
        containerId: `c-${name}`,
      },
    ],
  };
}

describe('the node HPA controller (k8s:docker): acts on the Deployment scale from its containers’ cgroup CPU', () => {
  it('first sync has no sample; with pods at 140 % of request it sets replicas 2 → 4 and says so in an event', () => {
    const events: string[] = [];
    const objects = [structuredClone(deployment), hpa];
    const pods = [pod('a'), pod('b')];
    const cpu = new Map<string, number>([
      ['c-a', 100],
      ['c-b', 100],
    ]);
    const host: AutoscalingHost = {
      list: (kind) => objects.filter((o) => o.kind === kind),
      object: (kind, _ns, name) => objects.find((o) => o.kind === kind && o.metadata.name === name),
      pods: () => pods,
      event: (object, _ns, type, reason, message) => events.push(`${type} ${reason} ${object}: ${message}`),
      changed: () => undefined,
    };
    const autoscalers = new NodeAutoscalers(15_000, (id) => cpu.get(id));
    const t0 = Date.now();
    autoscalers.tick(host, t0);
    assert.equal(objects[0]!.spec.replicas, 2);
    assert.match(events.join('\n'), /Warning FailedGetResourceMetric horizontalpodautoscaler\/recommendations/);
    // 15 s later each container used 10.5 s of CPU: 700m, 140 % of its 500m request.
    cpu.set('c-a', 110.5).set('c-b', 110.5);
    autoscalers.tick(host, t0 + 7_000); // within the period: no sync
    assert.equal(objects[0]!.spec.replicas, 2);
    autoscalers.tick(host, t0 + 15_000);
    assert.equal(objects[0]!.spec.replicas, 4);
    assert.match(
      events.at(-1)!,
      /^Normal SuccessfulRescale horizontalpodautoscaler\/recommendations: New size: 4; reason: cpu 140% of request, target 70%$/,
    );
    const [status] = autoscalers.status();
    assert.deepEqual([status!.currentUtilization, status!.desiredReplicas, status!.currentReplicas], [140, 4, 2]);
  });
});
