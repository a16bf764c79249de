import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { loadScenarios, placeSeedOrder, runOpenLoop, type HttpScenario, type LoadResult } from '@strata/loadtests';
import { loadServices } from '@strata/service-registry';
import { mixedScenario } from './cluster-fixture.js';
import { placeOrdersUnderLoad, replayAcknowledged } from './order-client.js';
import { OverlayCluster, imageId, overlaySkipReason, pinned, releaseB, runningImage, runningImageId } from './overlay-cluster.js';

// Rolling updates and rollbacks of released images under load, as `kubectl apply` of a new release does them: the
// minikube overlay executed by the k8s:docker runtime (its Deployments' strategy, maxSurge 1 and maxUnavailable 0,
// followed by the runtime's Deployment controller; pods leave their Service's DNS when they start terminating), for a
// leaf, a composite and the edge, each at two replicas. Run by `npm run test:containers` (Docker, kubectl and the
// images needed; skipped with a message otherwise), not by `npm test`.

const skip = overlaySkipReason();
if (skip) console.log(`SKIPPED: ${skip}`);
const registry = loadServices();
const scenarios = await loadScenarios();
const rows: string[] = [];
/** A leaf, a composite and the edge: the first declared service of each layer. */
const ROLLED = (['leaf', 'composite', 'edge'] as const).map((layer) => registry.inLayer(layer)[0]!.name);
/** Two replicas of each rolled service, so one serves while the other is replaced: a Kustomize `replicas:` on top. */
const REPLICAS = { replicas: ROLLED.map((name) => ({ name, count: 2 })) };

describe(
  'rolling updates and rollbacks of released images, executed from the minikube overlay, under load',
  { skip, timeout: 900_000 },
  () => {
    let node: OverlayCluster;
    let gateway: string;
    let orderId: string;

    before(async () => {
      node = await OverlayCluster.start('test-rollouts');
      node.apply(REPLICAS);
      await node.cluster.waitForRollouts(180_000);
      gateway = node.gatewayUrl();
      orderId = (await placeSeedOrder(gateway, `rollout-seed-${Date.now()}`, { retryForMs: 10_000, everyMs: 200 })).id;
    });
    after(async () => {
      await node?.stop();
      if (rows.length)
        console.log(
          `\n| rollout | load | requests sent | failed | orders acknowledged | orders stored | duplicates | pods at most | ready at least | mixed p99 / max |\n|---|---|---|---|---|---|---|---|---|---|\n${rows.join('\n')}\n`,
        );
    });

    /** Every acknowledged key is stored exactly once, under the order id the client was given (read in the database pod). */
    async function storedOrders(prefix: string, keys: Map<string, string>) {
      const result = await node.cluster.exec('strata', 'postgres-0', 'postgres', [
        'sh',
        '-c',
        `PGPASSWORD=$POSTGRES_PASSWORD psql -h 127.0.0.1 -U "$POSTGRES_USER" -d "$POSTGRES_DB" -tAF, -c "SELECT idempotency_key, id FROM orders WHERE idempotency_key LIKE '${prefix}-%'"`,
      ]);
      assert.equal(result.exitCode, 0, result.output);
      const stored = result.output
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((l) => l.split(','));
      const counts = new Map<string, number>();
      for (const [key] of stored) counts.set(key!, (counts.get(key!) ?? 0) + 1);
      return {
        stored: [...keys.keys()].filter((k) => counts.has(k)).length,
        duplicates: [...counts.values()].filter((c) => c > 1).length,
        mismatched: stored.filter(([key, id]) => keys.has(key!) && keys.get(key!) !== id).length,
      };
    }

    for (const service of ROLLED) {
      const layer = registry.get(service).layer;
      it(`${service} (${layer}): release A → B → back to A per the declared strategy, under mixed load: nothing fails, every acknowledged order stored once`, async () => {
        // A is what runs (the overlay applied at :dev), B a different image of the same code.
        const a = `strata/${service}:dev`;
        // A's image is what the pods run now, read from the engine before anything is built or tagged.
        const podsBefore = node.pods(service);
        const idA = runningImageId(podsBefore[0]!);
        assert.deepEqual(podsBefore.map(runningImageId), [idA, idA], 'both replicas run one image, A');
        const b = releaseB(service, pinned(service, a));
        const idB = imageId(b);
        assert.notEqual(idA, idB, 'release B is another image');
        const release = (image: string) => ({
          ...REPLICAS,
          images: [{ name: `strata/${service}`, newName: image.split(':')[0], newTag: image.split(':')[1] }],
        });
        const replicas = node.pods(service).length;
        assert.equal(replicas, 2);
        let maxPods = 0;
        let minReady = Infinity;
        let sampling = true;
        const sampler = (async () => {
          while (sampling) {
            const live = node.pods(service);
            maxPods = Math.max(maxPods, live.length);
            minReady = Math.min(minReady, live.filter((p) => p.ready).length);
            await delay(50);
          }
        })();
        const prefix = `rollout-${service}-${Date.now()}`;
        const seconds = 40;
        const load: Promise<LoadResult> = runOpenLoop({
          baseUrls: [gateway],
          scenario: mixedScenario(scenarios, orderId) as HttpScenario,
          context: { runId: prefix },
          rate: 30,
          durationSec: seconds,
          // Room for every arrival of the request timeout (30/s × 10 s): a pause while a pod is replaced shows as
          // latency in the table, not as arrivals the driver dropped; a request that times out still fails the test.
          maxInFlight: 300,
        });
        const orders = placeOrdersUnderLoad(gateway, { rate: 4, seconds, keyPrefix: prefix });
        await delay(3_000);
        const t0 = performance.now();
        node.apply(release(b));
        await node.cluster.waitForRollouts(120_000);
        const forward = (performance.now() - t0) / 1000;
        assert.deepEqual(node.pods(service).map(runningImage), [b, b], 'both replicas run release B');
        assert.deepEqual(node.pods(service).map(runningImageId), [idB, idB], "and B's image is what their containers run");
        const t1 = performance.now();
        node.apply(release(a));
        await node.cluster.waitForRollouts(120_000);
        const back = (performance.now() - t1) / 1000;
        const [mixedResult, orderResult] = await Promise.all([load, orders]);
        sampling = false;
        await sampler;
        const replayed = await replayAcknowledged(gateway, orderResult);
        const stored = await storedOrders(prefix, orderResult.acknowledged);
        // The row first, so a failed rollout is in the table too.
        rows.push(
          `| ${service} (${layer}): A → B (${forward.toFixed(1)} s), then back to A (${back.toFixed(1)} s), 2 replicas | 30 req/s mixed + 4 orders/s | ${mixedResult.sent + orderResult.scheduled + replayed} | ${mixedResult.scheduled - mixedResult.completed + orderResult.retries} | ${orderResult.acknowledged.size} | ${stored.stored} | ${stored.duplicates} | ${maxPods} | ${minReady} | ${mixedResult.latencyMs.p99.toFixed(0)} / ${mixedResult.latencyMs.max.toFixed(0)} ms |`,
        );
        const podsAfter = node.pods(service);
        assert.deepEqual(podsAfter.map(runningImage), [a, a], 'both replicas run release A again');
        assert.deepEqual(podsAfter.map(runningImageId), [idA, idA], "A's image, the one that ran before the rollout");
        assert.ok(
          podsAfter.every((p) => !podsBefore.some((old) => old.name === p.name)),
          `new pods (the rollback is a rollout too): before ${podsBefore.map((p) => p.name).join(', ')}, after ${podsAfter.map((p) => p.name).join(', ')}`,
        );
        assert.deepEqual(mixedResult.errors, {}, 'failed requests');
        assert.equal(
          mixedResult.completed,
          mixedResult.scheduled,
          `${mixedResult.completed} of ${mixedResult.scheduled} scheduled requests completed (${mixedResult.dropped} dropped by the driver with ${mixedResult.latencyMs.max.toFixed(0)} ms the slowest answer)`,
        );
        assert.deepEqual(orderResult.failures, {}, 'order attempts that failed (and were retried with their key)');
        assert.deepEqual(orderResult.anomalies, []);
        assert.equal(orderResult.acknowledged.size, orderResult.scheduled, 'every order was acknowledged');
        assert.equal(stored.stored, orderResult.acknowledged.size, 'every acknowledged order is stored');
        assert.equal(stored.duplicates, 0, 'none twice');
        assert.equal(stored.mismatched, 0, 'each under the id its client was given');
        assert.ok(maxPods <= replicas + 1, `at most ${replicas + 1} pods at once (maxSurge 1), saw ${maxPods}`);
        assert.ok(minReady >= replicas, `never fewer than ${replicas} ready (maxUnavailable 0), saw ${minReady}`);
      });
    }
  },
);
