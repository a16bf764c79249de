#!/usr/bin/env node
// npm run report:memory — the memory each pod of the minikube overlay needs, measured where the limits apply: the
// overlay executed in containers (k8s:docker), with tracing on (every service exporting to an OTLP sink pod, one request
// in five sampled, as the observability overlay runs them), idle and then under steady mixed load. Each pod's cgroup
// is read every 5 s: rss (what an OOM kill counts) and usage (rss + page cache, which the kernel reclaims first).
// Prints a table per run and the medians over the runs beside the declared requests and limits.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DockerCluster, REPO_ROOT, parseImageMap, renderOverlay, type KubeObject } from '@strata/k8s-docker';
import { median } from './capacity/statistics.js';
import { runOpenLoop } from './driver.js';
import { loadScenarios, type HttpScenario } from './scenarios.js';
import { placeSeedOrder } from './seed-order.js';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '180' },
    tag: { type: 'string', default: 'dev' },
    out: { type: 'string', default: join(REPO_ROOT, 'reports', 'memory.json') },
  },
});
const MiB = 2 ** 20;
const time = () => new Date().toISOString().slice(11, 19);

/** An OTLP/HTTP receiver that accepts and drops spans: the collector's place, so exporting costs what it does there. */
const sink = (image: string): KubeObject[] => [
  {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'otel-collector', namespace: 'strata' },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: 'otel-sink' } },
      template: {
        metadata: { labels: { app: 'otel-sink' } },
        spec: {
          containers: [
            {
              name: 'sink',
              image,
              command: ['node', '-e', "require('http').createServer((q,s)=>{q.resume();q.on('end',()=>s.end('{}'))}).listen(4318)"],
              ports: [{ name: 'otlp-http', containerPort: 4318 }],
            },
          ],
        },
      },
    },
  },
  {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'otel-collector', namespace: 'strata' },
    spec: { selector: { app: 'otel-sink' }, ports: [{ name: 'otlp-http', port: 4318, targetPort: 4318 }] },
  },
];

function cgroupMemory(id: string): { rss: number; usage: number } {
  const base = `/sys/fs/cgroup/memory/docker/${id}`;
  const stat = readFileSync(`${base}/memory.stat`, 'utf8');
  const rss = Number(/^total_rss (\d+)/m.exec(stat)?.[1] ?? 0);
  return { rss, usage: Number(readFileSync(`${base}/memory.usage_in_bytes`, 'utf8')) };
}

const scenarios = await loadScenarios();
const runs: Record<string, { idleRss: number; steadyRss: number; peakRss: number; peakUsage: number }>[] = [];
const declared = new Map<string, { request?: string; limit?: string }>();
for (let run = 1; run <= Number(values.runs); run++) {
  const cluster = await DockerCluster.start({ name: 'memory', imageMap: parseImageMap([]) });
  try {
    const objects = renderOverlay({
      overlayDir: join(REPO_ROOT, 'k8s', 'overlays', 'minikube'),
      tag: values.tag,
      workDir: join(cluster.stateDir, 'overlay'),
      extra: {
        // Tracing on, as k8s/components/observability turns it on (the same env entries, on every Strata Deployment).
        patches: [
          {
            target: { kind: 'Deployment', labelSelector: 'app.kubernetes.io/part-of=strata' },
            patch: JSON.stringify([
              {
                op: 'add',
                path: '/spec/template/spec/containers/0/env/-',
                value: { name: 'OTEL_EXPORTER_OTLP_ENDPOINT', value: 'http://otel-collector:4318' },
              },
              {
                op: 'add',
                path: '/spec/template/spec/containers/0/env/-',
                value: { name: 'OTEL_TRACES_SAMPLER', value: 'parentbased_traceidratio' },
              },
              { op: 'add', path: '/spec/template/spec/containers/0/env/-', value: { name: 'OTEL_TRACES_SAMPLER_ARG', value: '0.2' } },
            ]),
          },
        ],
      },
    });
    for (const o of objects)
      if (o.kind === 'Deployment' || o.kind === 'StatefulSet') {
        const r = o.spec.template.spec.containers[0].resources;
        declared.set(o.metadata.name, { request: r?.requests?.memory, limit: r?.limits?.memory });
      }
    cluster.apply([...objects, ...sink(cluster.image)]);
    await cluster.waitForRollouts(180_000, 'strata');
    const app = (p: { labels: Record<string, string> }) => p.labels['app.kubernetes.io/name'];
    const pods = () => cluster.pods('strata').filter((p) => app(p) && p.containers[0]?.containerId);
    const samples = new Map<string, { rss: number; usage: number; loaded: boolean }[]>();
    let loaded = false;
    const sample = () => {
      for (const p of pods()) {
        const m = cgroupMemory(p.containers[0]!.containerId!);
        const list = samples.get(app(p)!) ?? [];
        list.push({ ...m, loaded });
        samples.set(app(p)!, list);
      }
    };
    await new Promise((r) => setTimeout(r, 15_000));
    sample();
    const timer = setInterval(sample, 5_000);
    const base = cluster.nodePortUrl('strata', 'gateway');
    const orderId = (await placeSeedOrder(base, `memory-${Date.now()}`)).id;
    loaded = true;
    console.log(
      `${time()} run ${run}: ${values.seconds} s of load (browse 40/s, quote 10/s, recommendations 5/s, order reads 10/s, orders 10/s), sampling every 5 s`,
    );
    const seconds = Number(values.seconds);
    const load = (name: string, rate: number) =>
      runOpenLoop({
        baseUrls: [base],
        scenario: scenarios[name] as HttpScenario,
        context: { runId: `memory-${run}-${name}`, orderId },
        rate,
        durationSec: seconds,
      });
    const results = await Promise.all([
      load('browse', 40),
      load('quote', 10),
      load('recommendations', 5),
      load('orderRead', 10),
      load('order', 10),
    ]);
    clearInterval(timer);
    const failed = results.reduce((n, r) => n + r.failed + r.dropped, 0);
    const sent = results.reduce((n, r) => n + r.sent, 0);
    const summary: (typeof runs)[number] = {};
    for (const [name, list] of samples) {
      const under = list.filter((s) => s.loaded);
      const lastMinute = under.slice(-12);
      summary[name] = {
        idleRss: list[0]!.rss / MiB,
        steadyRss: median(lastMinute.map((s) => s.rss)) / MiB,
        peakRss: Math.max(...under.map((s) => s.rss)) / MiB,
        peakUsage: Math.max(...under.map((s) => s.usage)) / MiB,
      };
    }
    const restarts = cluster.pods('strata').reduce((n, p) => n + p.containers.reduce((m, c) => m + c.restartCount, 0), 0);
    console.log(
      `${time()} run ${run}: ${sent} requests, ${failed} failed or dropped, ${restarts} container restarts (an OOM kill restarts one)`,
    );
    for (const [name, s] of Object.entries(summary))
      console.log(
        `  ${name.padEnd(16)} idle ${s.idleRss.toFixed(0)} MiB, steady ${s.steadyRss.toFixed(0)} MiB, peak rss ${s.peakRss.toFixed(0)} MiB, peak usage ${s.peakUsage.toFixed(0)} MiB`,
      );
    runs.push(summary);
  } finally {
    await cluster.stop({ removeVolumes: true });
  }
}

const names = Object.keys(runs[0] ?? {}).filter((n) => declared.has(n));
const lines = [
  `| pod | idle rss MiB | steady rss under load MiB (median, min–max of ${runs.length} runs) | peak rss MiB | peak usage MiB | request | limit |`,
  '|---|---|---|---|---|---|---|',
];
for (const name of names) {
  const of = (key: keyof (typeof runs)[number][string]) => runs.map((r) => r[name]![key]);
  const steady = of('steadyRss');
  lines.push(
    `| ${name} | ${median(of('idleRss')).toFixed(0)} | ${median(steady).toFixed(0)} (${Math.min(...steady).toFixed(0)}–${Math.max(...steady).toFixed(0)}) | ${Math.max(...of('peakRss')).toFixed(0)} | ${Math.max(...of('peakUsage')).toFixed(0)} | ${declared.get(name)?.request} | ${declared.get(name)?.limit} |`,
  );
}
console.log(`\n${lines.join('\n')}`);
writeFileSync(
  values.out!,
  JSON.stringify({ measuredAt: new Date().toISOString(), seconds: Number(values.seconds), runs, table: lines }, null, 2),
);
console.log(`\nwrote ${values.out}`);
