import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { REPO_ROOT, type LocalCluster } from '@strata/local-cluster';
import { loadScenarios, placeSeedOrder, runOpenLoop, type HttpScenario } from '@strata/loadtests';
import { loadServices } from '@strata/service-registry';
import { freePort } from '@strata/dev-kit';
import { startTestCluster } from './cluster-fixture.js';

/**
 * The Grafana dashboard of k8s/components/observability, held against a real Prometheus: Debian's `prometheus`
 * package (2.42), started here, scraping every replica of the system as `npm start` boots it. Debian's build has no
 * kubernetes_sd_configs, so the scrape config is static, with the labels the component's relabelling gives each pod
 * (app, layer, pod) and its job name. Every query of every panel must return series under load; the error ratios must
 * read 0 (nothing fails), not "No data".
 */
const PROMETHEUS = process.env.PROMETHEUS ?? (spawnSync('prometheus', ['--version']).status === 0 ? 'prometheus' : undefined);
const NO_PROMETHEUS = 'no prometheus binary (apt-get install prometheus, or PROMETHEUS=<path>); .ci/run installs it';
if (!PROMETHEUS) {
  // CI installs it: there a missing binary is a broken step, not a reason to skip.
  if (process.env.CI) throw new Error(`CI must run the dashboard test: ${NO_PROMETHEUS}`);
  console.log(`SKIPPED: ${NO_PROMETHEUS}`);
}

interface Panel {
  title: string;
  targets?: { expr: string; legendFormat?: string }[];
}
const dashboard = JSON.parse(readFileSync(join(REPO_ROOT, 'k8s/components/observability/dashboards/strata.json'), 'utf8')) as {
  panels: Panel[];
};
const JOB = /job_name:\s*(\S+)/.exec(readFileSync(join(REPO_ROOT, 'k8s/components/observability/prometheus.yml'), 'utf8'))![1]!;

describe(
  `the Grafana dashboard's queries against a real Prometheus scraping the running system`,
  { skip: PROMETHEUS ? false : NO_PROMETHEUS },
  () => {
    let cluster: LocalCluster;
    let prometheus: ChildProcess;
    let api: string;
    const services = loadServices().names;

    const query = async (expr: string) => {
      const response = await fetch(`${api}/api/v1/query?query=${encodeURIComponent(expr)}`);
      const body = (await response.json()) as {
        status: string;
        error?: string;
        data: { result: { metric: Record<string, string>; value: [number, string] }[] };
      };
      assert.equal(body.status, 'success', `${expr}: ${body.error}`);
      return body.data.result;
    };

    before(async () => {
      cluster = await startTestCluster();
      const targets = cluster.plans
        .filter((p) => p.metricsUrl.startsWith('http'))
        .map((p) => ({
          targets: [new URL(p.metricsUrl).host],
          labels: { app: p.service, layer: p.layer, pod: p.id },
        }));
      const dir = mkdtempSync(join(tmpdir(), 'strata-prometheus-'));
      writeFileSync(
        join(dir, 'prometheus.yml'),
        JSON.stringify({
          global: { scrape_interval: '1s', evaluation_interval: '1s' },
          scrape_configs: [{ job_name: JOB, metrics_path: '/metrics', static_configs: targets }],
        }),
      );
      const port = await freePort();
      api = `http://127.0.0.1:${port}`;
      prometheus = spawn(
        PROMETHEUS!,
        [
          `--config.file=${join(dir, 'prometheus.yml')}`,
          `--storage.tsdb.path=${join(dir, 'data')}`,
          `--web.listen-address=127.0.0.1:${port}`,
        ],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      );
      let log = '';
      prometheus.stderr!.on('data', (d: Buffer) => (log = (log + d).slice(-4000)));
      for (let i = 0; ; i++) {
        if (prometheus.exitCode !== null) throw new Error(`prometheus exited with ${prometheus.exitCode}:\n${log}`);
        if (
          await fetch(`${api}/-/ready`).then(
            (r) => r.ok,
            () => false,
          )
        )
          break;
        if (i > 100) throw new Error(`prometheus not ready in 20 s:\n${log}`);
        await new Promise((r) => setTimeout(r, 200));
      }
      // Load on every layer, HTTP and gRPC, for long enough that a 1m rate has several samples of it.
      const scenarios = await loadScenarios();
      const orderId = (await placeSeedOrder(cluster.gatewayUrl, `dashboard-${Date.now()}`)).id;
      const load = (name: string, rate: number) =>
        runOpenLoop({
          baseUrls: [cluster.gatewayUrl],
          scenario: scenarios[name] as HttpScenario,
          context: { runId: `dashboard-${Date.now()}`, orderId },
          rate,
          durationSec: 8,
        });
      const results = await Promise.all([load('browse', 20), load('quote', 5), load('recommendations', 5), load('order', 5)]);
      for (const r of results) {
        assert.ok(r.sent >= 30, `only ${r.sent} requests sent`);
        assert.equal(r.failed + r.dropped, 0, `failed ${r.failed}, dropped ${r.dropped}: ${JSON.stringify(r.errors)}`);
      }
      await new Promise((r) => setTimeout(r, 3_000)); // the last scrapes after the load
    });
    after(async () => {
      prometheus?.kill('SIGTERM');
      await cluster?.stop();
    });

    it('every panel has queries, and every target of every replica is up', async () => {
      assert.ok(dashboard.panels.length >= 6);
      for (const panel of dashboard.panels) assert.ok(panel.targets?.length, `${panel.title} has no query`);
      // The error-ratio panels, whose series the cases below hold at exactly 0: they must be there to be held.
      assert.ok(dashboard.panels.filter((p) => /error/i.test(p.title)).length >= 1, 'no error-ratio panel');
      const up = await query(`up{job="${JOB}"}`);
      assert.equal(up.length, cluster.plans.filter((p) => p.metricsUrl.startsWith('http')).length);
      for (const series of up) assert.equal(series.value[1], '1', `${series.metric.pod} is not up`);
    });

    for (const panel of dashboard.panels)
      for (const target of panel.targets ?? [])
        it(`${panel.title} — ${target.legendFormat ?? target.expr}: returns series for the services it covers`, async () => {
          const result = await query(target.expr);
          assert.ok(result.length > 0, `No data: ${target.expr}`);
          const apps = new Set(result.map((s) => s.metric.app));
          const http = /http_/.test(target.expr);
          // HTTP series come from the gateway; gRPC series from every service that serves gRPC (all but the gateway).
          const expected = http ? ['gateway'] : /grpc_/.test(target.expr) ? services.filter((s) => s !== 'gateway') : services;
          for (const app of expected) assert.ok(apps.has(app), `${app} missing from ${target.expr} (got ${[...apps].join(', ')})`);
          for (const s of result)
            assert.ok(Number.isFinite(Number(s.value[1])), `${JSON.stringify(s.metric)} = ${s.value[1]} in ${target.expr}`);
          if (/error/i.test(panel.title))
            for (const s of result) assert.equal(Number(s.value[1]), 0, `${s.metric.app}: error ratio ${s.value[1]} while nothing failed`);
        });
  },
);
