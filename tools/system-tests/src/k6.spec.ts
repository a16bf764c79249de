import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { REPO_ROOT, type LocalCluster } from '@strata/local-cluster';
import { loadServices } from '@strata/service-registry';
import { postJson, startTestCluster } from './cluster-fixture.js';

/** k6 as users find it: $K6, then PATH, then the copy every developer machine and CI has beside the repo. */
function findK6(): string | undefined {
  const candidates = [
    process.env.K6,
    ...(process.env.PATH ?? '').split(delimiter).map((dir) => join(dir, 'k6')),
    join(REPO_ROOT, '..', 'shared', 'bin', 'k6'),
  ];
  return candidates.find((path) => path && existsSync(path) && spawnSync(path, ['version'], { stdio: 'ignore' }).status === 0);
}

const K6 = findK6();
const K6_DIR = join(REPO_ROOT, 'loadtests', 'k6');
const scripts = readdirSync(K6_DIR).filter((f) => f.endsWith('.js'));
const registry = loadServices();
const skip = K6
  ? false
  : 'no k6 found ($K6, PATH or ../shared/bin/k6): the k6 scripts were NOT run; install k6 (https://grafana.com/docs/k6/) to run them';
if (!K6) console.log(`SKIPPED: ${skip}`);

/** What `k6 run --summary-export` writes (k6's own JSON summary). */
interface Summary {
  metrics: Record<string, { count?: number; rate?: number; passes?: number; fails?: number; value?: number; 'p(99)'?: number }>;
}

/** Runs one script for a few seconds at a low rate, as a user would from the repository root. */
function runScript(file: string, env: Record<string, string>): Promise<{ code: number; output: string; summary: Summary }> {
  const out = join(mkdtempSync(join(tmpdir(), 'strata-k6-')), 'summary.json');
  const args = [
    'run',
    '--quiet',
    '--no-color',
    '--summary-export',
    out,
    ...Object.entries(env).flatMap(([k, v]) => ['-e', `${k}=${v}`]),
    join('loadtests', 'k6', file),
  ];
  return new Promise((resolve, reject) => {
    const child = spawn(K6!, args, { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d));
    child.stderr.on('data', (d: Buffer) => (output += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, output, summary: JSON.parse(readFileSync(out, 'utf8')) as Summary });
    });
  });
}

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
        const { code, output, summary } = await runScript(file, {
          ...env,
          RATE: '10',
          DURATION: '3s',
          RUN_ID: `k6-${Date.now()}`,
          ORDER_ID: orderId,
        });
        const m = summary.metrics;
        // k6 counts HTTP requests (http_reqs); a gRPC script makes one call per iteration, each with one check.
        const requests = grpc ? { count: (m.checks?.passes ?? 0) + (m.checks?.fails ?? 0), rate: m.iterations?.rate } : m.http_reqs;
        const duration = grpc ? m.grpc_req_duration : m.http_req_duration;
        rows.push(
          `| ${file} | ${grpc ? `${owner!.name} replica (gRPC)` : 'gateway (HTTP)'} | ${requests?.count} | ${requests?.rate?.toFixed(1)} | ${duration?.['p(99)']?.toFixed(1)} | ${grpc ? m.checks?.fails : m.http_req_failed?.passes} |`,
        );
        assert.equal(code, 0, `k6 exited ${code}:\n${output.slice(-3000)}`);
        assert.ok((m.iterations?.count ?? 0) >= 20, `iterations: ${m.iterations?.count}`);
        assert.ok((requests?.count ?? 0) >= 20, `requests: ${requests?.count}`);
        if (!grpc) assert.equal(m.http_req_failed?.passes, 0, 'failed HTTP requests');
        assert.equal(m.checks?.value, 1, 'checks passed');
        assert.equal(m.checks?.fails, 0);
        assert.equal(m.dropped_iterations?.count ?? 0, 0, 'dropped iterations');
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
