import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { findCapacity, probePasses, type ProbeRecord } from './search.js';

/** A system that meets the SLO up to `limit` req/s and fails above it. */
const system =
  (limit: number) =>
  async (rate: number): Promise<ProbeRecord> => ({
    rate,
    pass: rate <= limit,
    p99Ms: rate <= limit ? 50 : 900,
    failed: 0,
    dropped: 0,
    achievedRate: rate,
  });

describe('the SLO search', () => {
  it('passes a probe only when nothing failed or was dropped, p99 met the SLO and the rate was kept', () => {
    const ok = { rate: 100, achievedRate: 99, failed: 0, dropped: 0, p99Ms: 150 };
    assert.equal(probePasses(ok, 200), true);
    assert.equal(probePasses({ ...ok, p99Ms: 201 }, 200), false, 'p99 over the bound');
    assert.equal(probePasses({ ...ok, failed: 1 }, 200), false, 'one failed request');
    assert.equal(probePasses({ ...ok, dropped: 1 }, 200), false, 'one dropped arrival');
    assert.equal(probePasses({ ...ok, achievedRate: 90 }, 200), false, 'the rate was not kept');
  });

  it('finds the limit from below: grows, then bisects to within 4 %', async () => {
    const { capacity, probes } = await findCapacity(system(137), 40, 6);
    assert.ok(capacity <= 137 && capacity >= 137 * 0.95, `capacity ${capacity}`);
    assert.deepEqual(
      probes.slice(0, 4).map((p) => p.rate),
      [40, 64, 102, 164],
    );
  });

  it('finds the limit from above: halves until a probe passes', async () => {
    const { capacity, probes } = await findCapacity(system(30), 200, 6);
    assert.deepEqual(
      probes.slice(0, 3).map((p) => p.rate),
      [200, 100, 50],
    );
    assert.ok(capacity <= 30 && capacity >= 28, `capacity ${capacity}`);
  });

  it('reports 0 when nothing passes, and never exceeds its probe budget', async () => {
    assert.equal((await findCapacity(system(0), 100, 6)).capacity, 0);
    const { probes } = await findCapacity(system(1e9), 1, 6, { maxProbes: 5 });
    assert.equal(probes.length, 5);
  });
});
