import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { ApplyRefused, podStatus, type KubeObject } from '@strata/k8s-docker';
import { OverlayCluster, overlaySkipReason } from './overlay-cluster.js';

// Broken manifests, executed: each mistake a platform engineer makes in a pod spec fails here as it would on a node,
// with a message that says what to fix (the runtime's events, as `kubectl describe pod` shows them). Each test takes
// an object of the real minikube render, breaks one thing, and applies it alone in a namespace of its own.
// Run by `npm run test:containers` (Docker and the images needed; skipped with a message otherwise).

const skip = overlaySkipReason();
if (skip) console.log(`SKIPPED: ${skip}`);

describe('broken manifests fail on the k8s:docker node with a message a person can act on', { skip, timeout: 300_000 }, () => {
  let node: OverlayCluster;
  let render: KubeObject[];

  before(async () => {
    node = await OverlayCluster.start('test-broken');
    render = node.render();
  });
  after(() => node?.stop());

  /** An object of the minikube render, copied into `namespace`. */
  const take = (kind: string, name: string, namespace: string): KubeObject => {
    const object = structuredClone(render.find((o) => o.kind === kind && o.metadata.name.startsWith(name))!);
    object.metadata.namespace = namespace;
    return object;
  };
  const namespace = (name: string): KubeObject => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
  /** Deletes what a test applied, so the next one has the machine to itself. */
  afterEach(async () => {
    for (const kind of ['Deployment', 'StatefulSet', 'Service'])
      for (const o of node.cluster.list(kind)) await node.cluster.delete(kind, o.metadata.namespace ?? 'default', o.metadata.name);
  });
  const warnings = (ns: string) =>
    node.cluster
      .events()
      .filter((e) => e.namespace === ns && e.type === 'Warning')
      .map((e) => `${e.object}: ${e.reason}: ${e.message}`);
  const rolloutFailure = async (ns: string, seconds: number) => {
    const error = await node.cluster.waitForRollouts(seconds * 1000, ns).then(
      () => undefined,
      (e: Error) => e,
    );
    assert.ok(error, `${ns}: rolled out, but it should not have`);
    return error.message;
  };

  it('a container that writes to its read-only root filesystem crash-loops, and the event quotes its error', async () => {
    const ns = 'broken-rootfs';
    const writer = take('Deployment', 'catalog', ns);
    const container = writer.spec.template.spec.containers[0];
    container.image = node.cluster.image;
    container.command = ['sh', '-c', 'echo state > /tmp/state && exec sleep 3600'];
    delete container.startupProbe;
    delete container.readinessProbe;
    delete container.livenessProbe;
    node.cluster.apply([namespace(ns), writer]);
    await node.waitFor('CrashLoopBackOff', () => node.cluster.pods(ns).some((p) => podStatus(p) === 'CrashLoopBackOff'), 30_000);
    const message = warnings(ns).find((w) => /exited with code/.test(w));
    assert.match(
      message ?? '',
      /container catalog exited with code 2 \(Error\): .*cannot create \/tmp\/state: Read-only file system/,
      warnings(ns).join('\n'),
    );
  });

  it('a readiness probe on the wrong port never lets the pod into its Service, and says which port it asked', async () => {
    const ns = 'broken-probe';
    const catalog = take('Deployment', 'catalog', ns);
    catalog.spec.template.spec.containers[0].readinessProbe.grpc.port = 50052;
    node.cluster.apply([namespace(ns), take('Service', 'catalog', ns), catalog]);
    const message = await rolloutFailure(ns, 15);
    assert.match(message, /Waiting for deployment "catalog" rollout to finish: 0 of 2 updated replicas are available/);
    assert.match(message, /Readiness probe failed: grpc probe of [\d.]+:50052: .*ECONNREFUSED/);
    assert.deepEqual(node.cluster.endpoints(ns, 'catalog'), [], 'not in the Service');
    assert.equal(node.cluster.pods(ns)[0]!.containers[0]!.restartCount, 0, 'readiness never restarts a container');
  });

  it('a container missing an env var it needs in a cluster crash-loops with the name of the variable', async () => {
    const ns = 'broken-env';
    const orders = take('Deployment', 'orders', ns);
    const container = orders.spec.template.spec.containers[0];
    container.env = container.env.filter((e: { name: string }) => e.name !== 'PRICING_TARGET');
    node.cluster.apply([namespace(ns), take('Secret', 'postgres-credentials', ns), orders]);
    await node.waitFor('the container exited', () => warnings(ns).some((w) => /exited with code/.test(w)), 30_000);
    assert.match(
      warnings(ns).join('\n'),
      /container orders exited with code 1 \(Error\): .*PRICING_TARGET: not set, and inside a Kubernetes pod it has no default/,
    );
  });

  it('a target naming a Service of another namespace does not resolve; the cluster DNS says where the Service is', async () => {
    const shop = 'broken-shop';
    const elsewhere = 'broken-catalog';
    const gateway = take('Deployment', 'gateway', shop);
    node.cluster.apply([
      namespace(shop),
      namespace(elsewhere),
      take('Service', 'catalog', elsewhere),
      take('Deployment', 'catalog', elsewhere),
      gateway,
    ]);
    await node.cluster.waitForRollouts(60_000, shop);
    await node.cluster.waitForRollouts(60_000, elsewhere);
    const [pod] = node.cluster.pods(shop);
    const response = await fetch(`http://${pod!.ip}:8080/api/products/p-000042`);
    const body = (await response.json()) as { error: { message: string } };
    assert.equal(response.status, 503);
    assert.match(body.error.message, /Name resolution failed for target dns:\/\/\/catalog:50051/);
    await node.waitFor('the DNS event', () => warnings(shop).some((w) => /DNSNameNotFound/.test(w)), 10_000);
    assert.match(
      warnings(shop).join('\n'),
      /DNSNameNotFound: no Service "catalog" in namespace "broken-shop" .*a Service "catalog" exists in namespace broken-catalog: name it catalog\.broken-catalog/,
    );
  });

  it('a field the runtime does not implement is refused with its path, and nothing of the apply runs', () => {
    const ns = 'broken-field';
    const catalog = take('Deployment', 'catalog', ns);
    catalog.spec.template.spec.hostNetwork = true;
    catalog.spec.template.spec.containers[0].lifecycle = { postStart: { exec: { command: ['true'] } } };
    assert.throws(
      () => node.cluster.apply([namespace(ns), catalog]),
      (e: unknown) =>
        e instanceof ApplyRefused &&
        e.problems.includes(
          `Deployment ${ns}/catalog: spec.template.spec.hostNetwork is not implemented by this runtime (refused, not ignored)`,
        ) &&
        e.problems.includes(
          `Deployment ${ns}/catalog: spec.template.spec.containers[0].lifecycle.postStart is not implemented by this runtime (refused, not ignored)`,
        ),
    );
    assert.equal(node.cluster.object('Namespace', 'default', ns), undefined, 'not even the namespace was created');
    assert.deepEqual(node.cluster.pods(ns), []);
  });
});
