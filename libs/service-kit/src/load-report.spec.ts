import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { status } from '@grpc/grpc-js';
import { Registry } from 'prom-client';
import { balancerWeight, cpuLimitCores, LoadReporter } from './load-report.js';

describe('the load a server reports to its clients’ balancers (ORCA)', () => {
  it('reads the CPU limit from cgroup v2 cpu.max, and the machine’s CPUs where there is none', () => {
    assert.equal(cpuLimitCores('50000 100000\n'), 0.5);
    assert.equal(cpuLimitCores('150000 100000'), 1.5);
    assert.equal(cpuLimitCores('max 100000'), availableParallelism());
    assert.equal(cpuLimitCores(undefined), availableParallelism());
  });

  it('counts calls per second, and as errors only the calls this replica failed', async () => {
    const reporter = new LoadReporter({ limitCores: 1, windowMs: 60_000 });
    try {
      for (let i = 0; i < 10; i++) reporter.count(status.OK);
      reporter.count(status.UNAVAILABLE);
      reporter.count(status.INTERNAL);
      reporter.count(status.INVALID_ARGUMENT); // the caller's bad input: not this replica's failure
      reporter.count(status.NOT_FOUND);
      await delay(200);
      const sample = reporter.sampleNow();
      assert.ok(Math.abs(sample.eps / sample.qps - 2 / 14) < 1e-9, `eps ${sample.eps} against qps ${sample.qps}`);
      assert.ok(sample.qps > 14 / 0.5 && sample.qps < 14 / 0.15, `qps ${sample.qps} over ~0.2 s`);
    } finally {
      reporter.close();
    }
  });

  it('reports a busy event loop as utilization near 1 and an idle one near 0; the weight is qps over it', async () => {
    const registry = new Registry();
    const reporter = new LoadReporter({ registry, limitCores: 1, windowMs: 60_000 });
    try {
      reporter.sampleNow();
      await delay(300);
      const idle = reporter.sampleNow();
      assert.ok(idle.applicationUtilization < 0.3, `idle: ${idle.applicationUtilization}`);
      const until = performance.now() + 300;
      while (performance.now() < until) reporter.count(status.OK);
      const busy = reporter.sampleNow();
      assert.ok(busy.eventLoopUtilization > 0.8 && busy.applicationUtilization >= busy.eventLoopUtilization, JSON.stringify(busy));
      assert.equal(balancerWeight(busy), busy.qps / busy.applicationUtilization);
      assert.equal(balancerWeight({ ...busy, eps: busy.qps / 2 }), busy.qps / (busy.applicationUtilization + 0.5));
      // /metrics carries what the clients compute.
      const text = await registry.metrics();
      assert.match(text, new RegExp(`strata_load_report\\{kind="weight"\\} ${balancerWeight(busy)}`));
      // A window without calls gives weight 0, which clients ignore: the gauge keeps the last one, as they do.
      await delay(50);
      reporter.sampleNow();
      assert.match(await registry.metrics(), new RegExp(`strata_load_report\\{kind="weight"\\} ${balancerWeight(busy)}`));
    } finally {
      reporter.close();
    }
  });
});
