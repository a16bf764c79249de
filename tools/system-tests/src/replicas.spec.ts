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

  /**
   * What the local overlay's balancing must show: every call, not every connection, is balanced, so each replica
   * serves a share near the others'. Not an equal share: the gateway weighs each replica by the QPS over the load it
   * reports (weighted_round_robin), and three replicas sharing two cores report different loads. CI on 2026-12-04
   * measured 243, 175 and 182 of 600 (the largest 21 % above the mean), where round_robin held every one within 20 %.
   * Half to one and a half times the mean still fails what this guards against: a replica that gets all or none.
   */
  it('spreads calls over every catalog replica, each between half and one and a half times the mean', async () => {
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
      assert.ok(Math.abs(n - mean) <= 0.5 * mean, `${catalogReplicas[i]!.id} served ${n}, mean ${mean.toFixed(1)}: ${served.join(', ')}`);
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

    // The new process starts from zero; it must get a share of new calls. Spread over 4 s, not sent back to back:
    // the gateway weighs replicas by the load they report each second, and a process seconds old (its code not yet
    // optimised) reports more CPU per call, so its first second may be light; on 2026-12-04 here, 90 calls in a row
    // (a third of a second) gave it fewer than 15 once in four runs (22–25 in the others). Half the mean still tells a replica back in the rotation from one left out of it.
    const readAll = () => Promise.all(catalogReplicas.map((r) => getProductServed(r.metricsUrl)));
    const before = await readAll();
    const after = await steadyLoad(cluster.gatewayUrl, 60, 4);
    assert.deepEqual(after.failed, [], `${after.failed.length} of ${after.sent} requests failed after the restart`);
    const served = (await readAll()).map((n, i) => n - before[i]!);
    const mean = served.reduce((a, b) => a + b, 0) / served.length;
    const victimIndex = catalogReplicas.findIndex((r) => r.id === victim.id);
    console.log(`after the restart of ${victim.id}: ${catalogReplicas.map((r, i) => `${r.id} ${served[i]}`).join(', ')}`);
    assert.ok(served[victimIndex]! >= 0.5 * mean, `the restarted ${victim.id} takes traffic again: ${served.join(', ')} of ${after.sent}`);
  });
});
