import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { DeploymentController, StatefulSetController, type ControllerHost } from './controllers.js';
import type { Pod } from './kubelet.js';
import type { KubeObject } from './objects.js';

/**
 * A fake node for the controllers: pods it is asked for appear at once and become ready after `readyAfter` ticks;
 * deleted pods linger (terminating) for `drainTicks`. The controllers are the code under test; the node is not.
 */
class FakeNode implements ControllerHost {
  pods_: (Pod & { age: number; goneIn?: number })[] = [];
  created: string[] = [];
  constructor(
    private readonly readyAfter: (name: string) => number,
    private readonly drainTicks = 2,
  ) {}
  pods(namespace: string): Pod[] {
    return this.pods_.filter((p) => p.namespace === namespace);
  }
  createPod(r: Parameters<ControllerHost['createPod']>[0]): void {
    if (this.pods_.some((p) => p.name === r.name)) throw new Error(`pod ${r.name} exists`);
    this.created.push(r.name);
    this.pods_.push({
      namespace: r.namespace,
      name: r.name,
      uid: r.name,
      labels: r.labels,
      annotations: {},
      owner: r.owner,
      spec: r.template.spec,
      createdAt: this.created.length,
      phase: 'Pending',
      ready: false,
      deleting: false,
      claims: r.claims ?? {},
      initContainers: [],
      containers: [],
      age: 0,
    });
  }
  deletePod(pod: Pod): void {
    const p = this.pods_.find((x) => x.name === pod.name)!;
    p.deleting = true;
    p.ready = false;
    p.goneIn = this.drainTicks;
  }
  events: string[] = [];
  event(_object: string, _ns: string, _type: string, reason: string): void {
    this.events.push(reason);
  }
  tick(): void {
    for (const p of this.pods_) {
      p.age += 1;
      if (!p.deleting && p.age >= this.readyAfter(p.name)) {
        p.phase = 'Running';
        if (!p.ready) p.readySince = 0;
        p.ready = true;
      }
      if (p.goneIn !== undefined) p.goneIn -= 1;
    }
    this.pods_ = this.pods_.filter((p) => p.goneIn === undefined || p.goneIn > 0);
  }
}

const deployment = (replicas: number, image: string, rollingUpdate?: Record<string, unknown>): KubeObject => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'web', namespace: 'ns' },
  spec: {
    replicas,
    selector: { matchLabels: { app: 'web' } },
    strategy: { type: 'RollingUpdate', rollingUpdate },
    template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image }] } },
  },
});

describe('Deployment controller', () => {
  it('rolls a changed template one surge at a time: never more than replicas + maxSurge pods, never fewer than replicas − maxUnavailable available', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }),
        fc.oneof(fc.integer({ min: 0, max: 3 }), fc.constantFrom('25%', '50%', '100%')),
        fc.oneof(fc.integer({ min: 0, max: 2 }), fc.constantFrom('0%', '25%', '50%')),
        fc.integer({ min: 1, max: 4 }),
        (replicas, maxSurge, maxUnavailable, readyAfter) => {
          const surge = typeof maxSurge === 'number' ? maxSurge : Math.ceil((Number(maxSurge.slice(0, -1)) * replicas) / 100);
          const unavailable =
            typeof maxUnavailable === 'number' ? maxUnavailable : Math.floor((Number(maxUnavailable.slice(0, -1)) * replicas) / 100);
          const floor = replicas - (surge === 0 && unavailable === 0 ? 1 : unavailable);
          const node = new FakeNode(() => readyAfter);
          const controller = new DeploymentController();
          const a = deployment(replicas, 'img:a', { maxSurge, maxUnavailable });
          for (let t = 0; t < 20; t++) {
            controller.sync(a, node);
            node.tick();
          }
          assert.equal(controller.status(a, node).rollout.done, true, 'release A rolled out');
          const b = deployment(replicas, 'img:b', { maxSurge, maxUnavailable });
          let done = false;
          for (let t = 0; t < 200 && !done; t++) {
            controller.sync(b, node);
            const live = node.pods('ns').filter((p) => !p.deleting);
            assert.ok(live.length <= replicas + Math.max(surge, 0), `at most ${replicas + surge} pods, saw ${live.length} at tick ${t}`);
            assert.ok(
              live.filter((p) => p.ready).length >= floor,
              `at least ${floor} available, saw ${live.filter((p) => p.ready).length} at tick ${t}`,
            );
            node.tick();
            done = controller.status(b, node).rollout.done;
          }
          assert.ok(done, 'release B rolled out');
          const images = node
            .pods('ns')
            .filter((p) => !p.deleting)
            .map((p) => p.spec.containers[0]!.image);
          assert.deepEqual(images, Array(replicas).fill('img:b'));
        },
      ),
      { numRuns: 150 },
    );
  });

  it('scales without a rollout when only replicas change, removing the newest not-ready pods first', () => {
    const node = new FakeNode((name) => (name.endsWith('slow') ? 99 : 1));
    const controller = new DeploymentController();
    controller.sync(deployment(3, 'img:a'), node);
    for (let t = 0; t < 3; t++) node.tick();
    controller.sync(deployment(5, 'img:a'), node);
    assert.equal(node.pods('ns').filter((p) => !p.deleting).length, 5);
    assert.equal(controller.replicaSets('ns', 'web').length, 1, 'one ReplicaSet: nothing rolled');
    controller.sync(deployment(3, 'img:a'), node);
    const deleted = node.pods('ns').filter((p) => p.deleting);
    assert.equal(deleted.length, 2);
    assert.ok(
      deleted.every((p) => !p.readySince),
      'the two not yet ready went first',
    );
  });

  it('Recreate removes every old pod before any new one exists', () => {
    const node = new FakeNode(() => 1, 3);
    const controller = new DeploymentController();
    const recreate = (image: string) => ({
      ...deployment(2, image),
      spec: { ...deployment(2, image).spec, strategy: { type: 'Recreate' } },
    });
    for (let t = 0; t < 3; t++) {
      controller.sync(recreate('img:a'), node);
      node.tick();
    }
    for (let t = 0; t < 10; t++) {
      controller.sync(recreate('img:b'), node);
      const images = new Set(node.pods('ns').map((p) => p.spec.containers[0]!.image));
      assert.ok(!(images.has('img:a') && images.has('img:b')), `tick ${t}: old and new pods at once`);
      node.tick();
    }
    assert.ok(controller.status(recreate('img:b'), node).rollout.done);
  });
});

describe('StatefulSet controller', () => {
  const set = (replicas: number, image = 'pg:1'): KubeObject => ({
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name: 'db', namespace: 'ns' },
    spec: {
      replicas,
      serviceName: 'db',
      selector: { matchLabels: { app: 'db' } },
      volumeClaimTemplates: [{ metadata: { name: 'data' }, spec: {} }],
      template: { metadata: { labels: { app: 'db' } }, spec: { containers: [{ name: 'db', image }] } },
    },
  });

  it('creates pods in order, each only when the one below is ready, with a stable name, hostname and claim', () => {
    const node = new FakeNode(() => 2);
    const controller = new StatefulSetController();
    const order: string[] = [];
    for (let t = 0; t < 12; t++) {
      controller.sync(set(3), node);
      for (const p of node.pods('ns')) if (!order.includes(p.name)) order.push(p.name);
      const notReady = node.pods('ns').filter((p) => !p.ready);
      assert.ok(notReady.length <= 1, 'never two pods starting at once');
      node.tick();
    }
    assert.deepEqual(order, ['db-0', 'db-1', 'db-2']);
    assert.deepEqual(node.pods('ns')[1]!.claims, { data: 'data-db-1' });
  });

  it('scales down from the highest ordinal, and rolls a new template from the highest down, one pod at a time', () => {
    const node = new FakeNode(() => 1, 2);
    const controller = new StatefulSetController();
    for (let t = 0; t < 10; t++) {
      controller.sync(set(3), node);
      node.tick();
    }
    const replaced: string[] = [];
    for (let t = 0; t < 40; t++) {
      controller.sync(set(3, 'pg:2'), node);
      for (const p of node.pods('ns')) if (p.deleting && !replaced.includes(p.name)) replaced.push(p.name);
      assert.ok(node.pods('ns').filter((p) => p.deleting).length <= 1, 'one pod replaced at a time');
      node.tick();
    }
    assert.deepEqual(replaced, ['db-2', 'db-1', 'db-0']);
    assert.ok(node.pods('ns').every((p) => p.spec.containers[0]!.image === 'pg:2'));
    controller.sync(set(1, 'pg:2'), node);
    assert.deepEqual(
      node
        .pods('ns')
        .filter((p) => p.deleting)
        .map((p) => p.name),
      ['db-2'],
    );
  });
});
