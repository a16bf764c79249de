import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { boundBy, efficiency, median, repeated, requestShares, type CpuAccounting } from './statistics.js';
import { hostIdleShare } from './accounting.js';

const accounting = (change: Partial<CpuAccounting> = {}): CpuAccounting => ({
  stepped: [
    { id: 'catalog-1', cores: 0.24, quota: 0.25, requests: 500 },
    { id: 'catalog-2', cores: 0.23, quota: 0.25, requests: 480 },
  ],
  fixed: [{ service: 'gateway', cores: 0.2, quota: 0.6 }],
  driverCores: 0.3,
  hostIdle: 0.4,
  hostCores: 2,
  ...change,
});

describe('repeats, medians and spread', () => {
  it('takes the median of odd and even counts, ignoring runs that produced nothing', () => {
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([4, 1, 3, 2]), 2.5);
    assert.equal(median([5, Number.NaN, 1, 3]), 3);
    assert.ok(Number.isNaN(median([])));
  });

  it('flags repeats that spread more than ±15 % around their median as noisy', () => {
    const steady = repeated([100, 108, 95]);
    assert.equal(steady.median, 100);
    assert.equal(steady.min, 95);
    assert.equal(steady.max, 108);
    assert.ok(Math.abs(steady.spread - 0.08) < 1e-9);
    assert.equal(steady.noisy, false);
    const noisy = repeated([100, 80, 104]);
    assert.ok(Math.abs(noisy.spread - 0.2) < 1e-9);
    assert.equal(noisy.noisy, true);
  });

  it('computes scaling efficiency against n times one replica', () => {
    assert.equal(efficiency(180, 2, 100), 0.9);
    assert.equal(efficiency(400, 4, 100), 1);
    assert.ok(Number.isNaN(efficiency(100, 2, 0)));
  });

  it("gives each replica's share of the requests", () => {
    assert.deepEqual(requestShares([{ requests: 300 }, { requests: 100 }]), [0.75, 0.25]);
    assert.ok(Number.isNaN(requestShares([{ requests: 0 }])[0]!));
  });
});

describe('what bounded a saturation run', () => {
  it('is the stepped layer when its replicas used nearly all of their quota', () => {
    assert.equal(boundBy(accounting()).by, 'stepped layer');
  });

  it('is the host when it had no idle CPU left, before any fixed layer or the driver', () => {
    const bound = boundBy(accounting({ stepped: [{ id: 'a', cores: 0.1, quota: 0.25, requests: 1 }], hostIdle: 0.05, driverCores: 1 }));
    assert.equal(bound.by, 'host');
    assert.match(bound.detail, /2 cores were 95 % busy/);
  });

  it('is a fixed layer that used its whole quota, and names it', () => {
    const bound = boundBy(
      accounting({
        stepped: [{ id: 'a', cores: 0.1, quota: 0.25, requests: 1 }],
        fixed: [
          { service: 'orders', cores: 0.1, quota: 0.3 },
          { service: 'gateway', cores: 0.58, quota: 0.6 },
        ],
      }),
    );
    assert.equal(bound.by, 'fixed layer');
    assert.match(bound.detail, /^gateway used 97 %/);
  });

  it('is the load driver when it used a whole core', () => {
    assert.equal(
      boundBy(accounting({ stepped: [{ id: 'a', cores: 0.1, quota: 0.25, requests: 1 }], driverCores: 0.95 })).by,
      'load driver',
    );
  });

  it('is the load driver when its event loop was busy the whole run, though its process used under a core', () => {
    const below = [{ id: 'a', cores: 0.12, quota: 0.25, requests: 1 }];
    const bound = boundBy(accounting({ stepped: below, driverCores: 0.6, driverLoop: 0.97 }));
    assert.equal(bound.by, 'load driver');
    assert.match(bound.detail, /event loop was busy 97 % of the run \(its process at 60 % of a core\)/);
    assert.equal(boundBy(accounting({ stepped: below, driverCores: 0.6, driverLoop: 0.5 })).by, 'none found');
    assert.equal(boundBy(accounting({ stepped: below, driverCores: 0.6 })).by, 'none found', 'k6 reports no loop');
  });

  it('is none of them when nothing ran out (latency or concurrency bound)', () => {
    const bound = boundBy(accounting({ stepped: [{ id: 'a', cores: 0.1, quota: 0.25, requests: 1 }] }));
    assert.equal(bound.by, 'none found');
    assert.match(bound.detail, /40 % of its quota/);
  });
});

describe('the pinned arrangement', () => {
  it("counts the fixed layers' CPU as the host's limit when it is busy, though the host as a whole had idle time", () => {
    const below = [{ id: 'a', cores: 0.5, quota: 1, requests: 1 }];
    const bound = boundBy(accounting({ stepped: below, hostIdle: 0.45, fixedNode: { cpus: [0], idle: 0.1 } }));
    assert.equal(bound.by, 'host');
    assert.match(bound.detail, /CPU 0 was 90 % busy/);
    assert.equal(boundBy(accounting({ stepped: below, hostIdle: 0.45, fixedNode: { cpus: [0], idle: 0.5 } })).by, 'none found');
  });

  it('reads idle time over a subset of the CPUs', () => {
    const at = (idle0: number, idle1: number, total: number) => ({
      idle: idle0 + idle1,
      total: 2 * total,
      cores: 2,
      perCpu: [
        { idle: idle0, total },
        { idle: idle1, total },
      ],
    });
    const before = at(0, 0, 0);
    const after = at(10, 90, 100);
    assert.equal(hostIdleShare(before, after), 0.5);
    assert.equal(hostIdleShare(before, after, [0]), 0.1);
    assert.equal(hostIdleShare(before, after, [1]), 0.9);
  });
});
