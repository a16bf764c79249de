import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { REPO_ROOT, type LocalCluster } from '@strata/local-cluster';
import { loadServices } from '@strata/service-registry';
import { freePort } from '@strata/dev-kit';
import { postJson, startTestCluster } from './cluster-fixture.js';
import { K6_SCRIPTS, NO_K6, assertK6Run, findK6, runScript, warmUp } from './k6-runner.js';

const K6 = findK6();
const scripts = K6_SCRIPTS;
const registry = loadServices();
const skip = K6 ? false : NO_K6;
if (!K6) console.log(`SKIPPED: ${skip}`);

describe(
  `the k6 scripts under real k6 (${K6 ? execFileSync(K6, ['version'], { encoding: 'utf8' }).trim().split(' ').slice(0, 2).join(' ') : 'not found'}) against the system as npm start boots it`,
  { skip },
  () => {
    let cluster: LocalCluster;
    let orderId: string;
    const rows: string[] = [];

    before(async () => {
      cluster = await startTestCluster();
      orderId = (
        await postJson(
          cluster.gatewayUrl,
          '/api/orders',
          { lines: [{ productId: 'p-000042', quantity: 1 }] },
          { 'idempotency-key': `k6-seed-${Date.now()}` },
        )
      ).body.id;
      await warmUp(
        cluster.gatewayUrl,
        (service) => cluster.plans.find((p) => p.service === service && p.probe.kind === 'grpc')!.address,
        orderId,
      );
    });
    after(async () => {
      await cluster?.stop();
      if (rows.length)
        console.log(`\n| script | target | requests | achieved req/s | p99 ms | failed |\n|---|---|---|---|---|---|\n${rows.join('\n')}\n`);
    });

    it('every script belongs to a declared service (load.k6 in apps/<name>/service.json)', () => {
      for (const file of scripts)
        assert.ok(registry.ownerOfScript(`loadtests/k6/${file}`), `loadtests/k6/${file} is in no service's declaration`);
      assert.ok(scripts.length >= 8);
    });

    for (const file of scripts) {
      const owner = registry.ownerOfScript(`loadtests/k6/${file}`);
      const grpc = file.startsWith('grpc-');
      it(`${file}: runs offline, meets its thresholds, and every request and check succeeds`, async () => {
        const replica = cluster.plans.find((p) => p.service === owner?.name && p.probe.kind === 'grpc');
        const env: Record<string, string> = grpc ? { TARGET: replica!.address } : { BASE_URL: cluster.gatewayUrl };
        const { code, output, summary } = await runScript(K6!, file, {
          ...env,
          RATE: '10',
          DURATION: '3s',
          RUN_ID: `k6-${Date.now()}`,
          ORDER_ID: orderId,
        });
        const row = assertK6Run(file, { code, output, summary }, 10 * 3);
        rows.push(
          `| ${file} | ${grpc ? `${owner!.name} replica (gRPC)` : 'gateway (HTTP)'} | ${row.requests} | ${row.rate} | ${row.p99} | ${row.failed} |`,
        );
      });
    }

    it('MODE=ramping gives an open-loop ramping-arrival-rate scenario (k6 inspect)', () => {
      const options = JSON.parse(
        execFileSync(K6!, ['inspect', '-e', 'MODE=ramping', '-e', 'RATE=40', join('loadtests', 'k6', 'browse.js')], {
          cwd: REPO_ROOT,
          encoding: 'utf8',
        }),
      );
      assert.equal(options.scenarios.browse.executor, 'ramping-arrival-rate');
      assert.equal(options.scenarios.browse.stages[1].target, 40);
      assert.deepEqual(Object.keys(options.thresholds).sort(), ['checks', 'dropped_iterations', 'http_req_duration', 'http_req_failed']);
    });
  },
);

describe('the k6 scripts with nothing to load: setup() checks the target and aborts with one line', { skip }, () => {
  for (const file of scripts)
    it(`${file}: stops before the load (exit 108), saying that nothing answers and what to start`, async () => {
      const closed = await freePort();
      const env: Record<string, string> = file.startsWith('grpc-')
        ? { TARGET: `127.0.0.1:${closed}` }
        : { BASE_URL: `http://127.0.0.1:${closed}` };
      const started = performance.now();
      const { code, output, summary } = await runScript(K6!, file, { ...env, RATE: '10', DURATION: '20s' });
      assert.equal(code, 108, output); // k6's exit code for a test aborted from the script
      assert.match(output, /test aborted: nothing answers (gRPC )?at \S+ \(.*\): start Strata with `npm start`/);
      assert.ok(performance.now() - started < 10_000, `took ${performance.now() - started} ms: the load ran instead of stopping`);
      assert.equal(summary.metrics.iterations?.count ?? 0, 0, 'iterations ran against nothing');
    });
});
