#!/usr/bin/env node
// npm run report:memory — the memory each pod of the minikube overlay needs, measured where the limits apply: the
// overlay executed in containers (k8s:docker), with tracing on (every service exporting to an OTLP sink pod, one request
// in five sampled, as the observability overlay runs them; --sampler-arg 1 keeps every trace, as `npm start` does), idle
// and then under steady mixed load. Each pod's cgroup
// is read every 5 s: rss (what an OOM kill counts) and usage (rss + page cache, which the kernel reclaims first).
// Prints a table per run and the medians over the runs beside the declared requests and limits. --target local measures
// `npm start`'s processes instead (every request sampled, as it runs them), from /proc.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DockerCluster, REPO_ROOT, parseImageMap, renderOverlay, type KubeObject } from '@strata/k8s-docker';
import { startLocalCluster } from '@strata/local-cluster';
import { exitOnMissingPrerequisite, parseCommandLine, requireDocker } from '@strata/preflight';
import { loadServices } from '@strata/service-registry';
import { freePort } from '@strata/dev-kit';
import { median } from './capacity/statistics.js';
import { runOpenLoop } from './driver.js';
import { loadScenarios, type HttpScenario } from './scenarios.js';
import { buildImages } from './images.js';
import { placeSeedOrder } from './seed-order.js';

exitOnMissingPrerequisite();
const { values } = parseCommandLine(import.meta.url, {
  options: {
    runs: { type: 'string', default: '3', description: 'runs (the table gives their medians)' },
    seconds: { type: 'string', default: '180', description: 'seconds of load in each run' },
    tag: { type: 'string', default: 'dev', description: 'containers: the image tag' },
    'sampler-arg': {
      type: 'string',
      default: '0.2',
      description: 'the share of traces kept (OTEL_TRACES_SAMPLER_ARG): 0.2 as the observability overlay, 1 as npm start',
    },
    out: { type: 'string', default: join(REPO_ROOT, 'reports', 'memory.json'), description: 'the JSON report' },
    target: {
      type: 'string',
      default: 'containers',
      description: "containers: the minikube overlay's pods; local: npm start's processes (no Docker needed)",
    },
    'no-build': { type: 'boolean', default: false, description: 'use the images built already instead of npm run images first' },
  },
});
const local = values.target === 'local';
if (!local) {
  requireDocker('report:memory measures each pod in containers: start Docker (or use --target local, which needs none)');
  if (!values['no-build']) buildImages();
}
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

interface System {
  gatewayUrl: string;
  /** Per service: rss (anonymous memory, what an OOM kill counts) and usage, of its largest replica. */
  memory(): Map<string, { rss: number; usage: number }>;
  restarts(): number;
  stop(): Promise<void>;
}

/** The minikube overlay's pods in containers, tracing on as the observability overlay turns it on. */
async function startPods(declared: Map<string, { request?: string; limit?: string }>): Promise<System> {
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
              {
                op: 'add',
                path: '/spec/template/spec/containers/0/env/-',
                value: { name: 'OTEL_TRACES_SAMPLER_ARG', value: values['sampler-arg'] },
              },
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
  } catch (error) {
    await cluster.stop({ removeVolumes: true });
    throw error;
  }
  const app = (p: { labels: Record<string, string> }) => p.labels['app.kubernetes.io/name'];
  return {
    gatewayUrl: cluster.nodePortUrl('strata', 'gateway'),
    memory: () => {
      const out = new Map<string, { rss: number; usage: number }>();
      for (const p of cluster.pods('strata')) {
        if (!app(p) || !p.containers[0]?.containerId) continue;
        const m = cgroupMemory(p.containers[0].containerId);
        if (m.rss > (out.get(app(p)!)?.rss ?? -1)) out.set(app(p)!, m);
      }
      return out;
    },
    restarts: () => cluster.pods('strata').reduce((n, p) => n + p.containers.reduce((m, c) => m + c.restartCount, 0), 0),
    stop: () => cluster.stop({ removeVolumes: true }),
  };
}

/**
 * `npm start`'s local cluster (its overlay, the embedded database, the live page collecting every trace: every request
 * sampled): each replica's process, read from /proc — rss is RssAnon (what a memory cgroup would charge it), "usage"
 * VmRSS, which adds the shared pages of the Node binary and its libraries.
 */
async function startLocal(): Promise<System> {
  const cluster = await startLocalCluster({
    stateDir: mkdtempSync(join(tmpdir(), 'strata-memory-')),
    gatewayPort: await freePort(),
    basePort: 23_000,
    ephemeralDatabase: true,
    console: { port: 0, title: 'report:memory on local processes' },
    extraEnv: { LOG_LEVEL: 'warn', SHUTDOWN_DELAY_MS: '200', DRAIN_TIMEOUT_MS: '5000' },
  });
  const kib = (status: string, key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) * 1024;
  return {
    gatewayUrl: cluster.gatewayUrl,
    memory: () => {
      const out = new Map<string, { rss: number; usage: number }>();
      for (const r of cluster.supervisor.status()) {
        if (!r.pid || r.layer === 'data') continue;
        let status: string;
        try {
          status = readFileSync(`/proc/${r.pid}/status`, 'utf8');
        } catch {
          continue; // a replica replaced between the listing and the read
        }
        const m = { rss: kib(status, 'RssAnon'), usage: kib(status, 'VmRSS') };
        const before = out.get(r.service);
        if (!before || m.rss > before.rss) out.set(r.service, m);
      }
      return out;
    },
    restarts: () => cluster.supervisor.status().reduce((n, r) => n + r.restarts, 0),
    stop: () => cluster.stop(),
  };
}

function cgroupMemory(id: string): { rss: number; usage: number } {
  const base = `/sys/fs/cgroup/memory/docker/${id}`;
  const stat = readFileSync(`${base}/memory.stat`, 'utf8');
  const rss = Number(/^total_rss (\d+)/m.exec(stat)?.[1] ?? 0);
  return { rss, usage: Number(readFileSync(`${base}/memory.usage_in_bytes`, 'utf8')) };
}

const scenarios = await loadScenarios();
const runs: Record<string, { idleRss: number; steadyRss: number; peakRss: number; peakUsage: number }>[] = [];
const declared = new Map<string, { request?: string; limit?: string }>();
const seconds = Number(values.seconds);
for (let run = 1; run <= Number(values.runs); run++) {
  const system = local ? await startLocal() : await startPods(declared);
  try {
    const samples = new Map<string, { rss: number; usage: number; loaded: boolean }[]>();
    let loaded = false;
    const sample = () => {
      for (const [name, m] of system.memory()) {
        const list = samples.get(name) ?? [];
        list.push({ ...m, loaded });
        samples.set(name, list);
      }
    };
    await new Promise((r) => setTimeout(r, 15_000));
    sample();
    const timer = setInterval(sample, 5_000);
    const base = system.gatewayUrl;
    const orderId = (await placeSeedOrder(base, `memory-${Date.now()}`)).id;
    loaded = true;
    console.log(
      `${time()} run ${run}: ${values.seconds} s of load (browse 40/s, quote 10/s, recommendations 5/s, order reads 10/s, orders 10/s), sampling every 5 s`,
    );
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
    console.log(
      `${time()} run ${run}: ${sent} requests, ${failed} failed or dropped, ${system.restarts()} restarts (an OOM kill restarts one)`,
    );
    for (const [name, s] of Object.entries(summary))
      console.log(
        `  ${name.padEnd(16)} idle ${s.idleRss.toFixed(0)} MiB, steady ${s.steadyRss.toFixed(0)} MiB, peak rss ${s.peakRss.toFixed(0)} MiB, peak ${local ? 'VmRSS' : 'usage'} ${s.peakUsage.toFixed(0)} MiB`,
      );
    runs.push(summary);
  } finally {
    await system.stop();
  }
}

const registry = loadServices();
if (local)
  // What a pod of the service would be held to (its Deployment in k8s/base).
  for (const s of registry.services) {
    const { resources } = registry.deployment(s.name);
    declared.set(s.name, { request: resources.requests.memory, limit: resources.limits.memory });
  }
const names = Object.keys(runs[0] ?? {}).filter((n) => declared.has(n));
const lines = [
  `| ${local ? 'service (largest replica)' : 'pod'} | idle rss MiB | steady rss under load MiB (median, min–max of ${runs.length} runs) | peak rss MiB | peak ${local ? 'VmRSS' : 'usage'} MiB | request | limit |`,
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
  JSON.stringify(
    {
      measuredAt: new Date().toISOString(),
      target: values.target,
      seconds: Number(values.seconds),
      samplerArg: local ? 1 : Number(values['sampler-arg']),
      runs,
      table: lines,
    },
    null,
    2,
  ),
);
console.log(`\nwrote ${values.out}`);
