import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import type { LocalCluster } from '@strata/local-cluster';
import { scrapeCounter } from '@strata/dev-kit';
import { call, startTestCluster } from './cluster-fixture.js';

const getProductServed = (metricsUrl: string) =>
  scrapeCounter(metricsUrl, 'grpc_server_handled_total', { grpc_method: 'getProduct', grpc_code: 'OK' });

/** Sends `rate` GET requests per second for `seconds` (open loop, bounded) and tallies the outcomes. */
async function steadyLoad(
  base: string,
  rate: number,
  seconds: number,
  onTick?: (sent: number) => void,
): Promise<{ sent: number; failed: { status: number; body: unknown }[] }> {
  const failed: { status: number; body: unknown }[] = [];
  const pending: Promise<void>[] = [];
  const total = rate * seconds;
  const started = performance.now();
  for (let i = 0; i < total; i++) {
    const due = started + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await delay(wait);
    onTick?.(i);
    const id = `p-${String(1 + (i % 9000)).padStart(6, '0')}`;
    pending.push(
      call(base, `/api/products/${id}`).then(
        (r) => void (r.status === 200 || failed.push({ status: r.status, body: r.body })),
        (error: unknown) => void failed.push({ status: 0, body: String(error) }),
      ),
    );
  }
  await Promise.all(pending);
  return { sent: total, failed };
}

describe('replicas of the local overlay', () => {
  let cluster: LocalCluster;
  let catalogReplicas: { id: string; metricsUrl: string }[];

  before(async () => {
    cluster = await startTestCluster();
    catalogReplicas = cluster.plans.filter((p) => p.service === 'catalog');
  });
  after(async () => {
    await cluster?.stop();
  });

  it('spreads calls over every catalog replica, each within 20 % of the mean', async () => {
    assert.ok(catalogReplicas.length >= 3, 'k8s/overlays/local declares at least 3 catalog replicas');
    const before = await Promise.all(catalogReplicas.map((r) => getProductServed(r.metricsUrl)));
    const calls = 600;
    for (let i = 0; i < calls; i += 20) {
      const batch = await Promise.all(
        Array.from({ length: 20 }, (_, k) => call(cluster.gatewayUrl, `/api/products/p-${String(1 + i + k).padStart(6, '0')}`)),
      );
      assert.ok(batch.every((r) => r.status === 200));
    }
    const served = (await Promise.all(catalogReplicas.map((r) => getProductServed(r.metricsUrl)))).map((n, i) => n - before[i]!);
    const mean = served.reduce((a, b) => a + b, 0) / served.length;
    assert.equal(
      served.reduce((a, b) => a + b, 0),
      calls,
    );
    for (const [i, n] of served.entries()) {
      assert.ok(Math.abs(n - mean) <= 0.2 * mean, `${catalogReplicas[i]!.id} served ${n}, mean ${mean.toFixed(1)}: ${served.join(', ')}`);
    }
  });

  it('survives a SIGKILLed catalog replica under load: no failed request, and the replica comes back and serves', async () => {
    const victim = cluster.supervisor.status().find((r) => r.service === 'catalog')!;
    let killedAt = 0;
    const load = await steadyLoad(cluster.gatewayUrl, 60, 8, (i) => {
      if (i === 120) {
        killedAt = Date.now();
        process.kill(victim.pid!, 'SIGKILL');
      }
    });
    assert.ok(killedAt > 0);
    assert.deepEqual(load.failed, [], `${load.failed.length} of ${load.sent} requests failed`);

    let status = cluster.supervisor.status().find((r) => r.id === victim.id)!;
    for (let i = 0; i < 100 && status.state !== 'ready'; i++) {
      await delay(100);
      status = cluster.supervisor.status().find((r) => r.id === victim.id)!;
    }
    assert.equal(status.state, 'ready');
    assert.equal(status.restarts, 1);
    assert.notEqual(status.pid, victim.pid);

    // The new process starts from zero; it must get a share of new calls.
    const metricsUrl = catalogReplicas.find((r) => r.id === victim.id)!.metricsUrl;
    const before = await getProductServed(metricsUrl);
    for (let i = 0; i < 90; i++) assert.equal((await call(cluster.gatewayUrl, `/api/products/p-00${String(1000 + i)}`)).status, 200);
    assert.ok((await getProductServed(metricsUrl)) - before >= 15, 'the restarted replica takes traffic again');
  });
});
