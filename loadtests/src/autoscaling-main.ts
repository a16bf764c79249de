#!/usr/bin/env node
// npm run report:autoscaling [-- --target local|containers|both] — a layer scaling itself, in every runtime Strata has
// here: a ramp of the recommendations scenario (5 → 45 req/s over 120 s locally, from recommendations' 1 replica of
// k8s/overlays/local-autoscaling; 5 → 30 in containers, from the minikube overlay's 1 replica with a 1-CPU limit), 60 s
// at the top, then a light load while it scales back. Locally against `npm start`'s cluster on
// k8s/overlays/local-autoscaling (scale-down window 20 s); in containers against the minikube overlay run by
// k8s:docker with the same window as a layer on top. The HPA controller syncs every 15 s, as in Kubernetes. Writes
// reports/autoscaling.md, one chart per runtime (of its first run; autoscaling-<runtime>.svg) and reports/autoscaling.json.
// --runs N (3): each runtime is run N times from a fresh start; the report gives every run and their median and range.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DockerCluster, REPO_ROOT, parseImageMap, renderOverlay } from '@strata/k8s-docker';
import { startLocalCluster } from '@strata/local-cluster';
import { exitOnMissingPrerequisite, parseCommandLine, requireDocker } from '@strata/preflight';
import { freePort } from '@strata/dev-kit';
import { rampChartSvg, rampSection, repeatsSection } from './autoscaling/report.js';
import { runRamp, type AutoscalingSubject, type RampPlan, type RampResult } from './autoscaling/ramp-run.js';
import { loadScenarios, loadSlo, type HttpScenario } from './scenarios.js';

exitOnMissingPrerequisite();
const { values } = parseCommandLine(import.meta.url, {
  options: {
    target: { type: 'string', default: 'both', description: 'local (npm start), containers (k8s:docker) or both' },
    'sync-seconds': { type: 'string', default: '15', description: "the HPA controller's sync period" },
    tag: { type: 'string', default: 'dev', description: 'containers: the image tag' },
    out: { type: 'string', default: join(REPO_ROOT, 'reports'), description: 'where autoscaling.md, its charts and JSON go' },
    runs: { type: 'string', default: '3', description: 'runs per runtime (the report gives each, and their median and range)' },
    redraw: {
      type: 'boolean',
      default: false,
      description: 'run nothing: write autoscaling.md and the charts again from autoscaling.json',
    },
  },
});
const syncMs = Number(values['sync-seconds']) * 1000;
const scenario = (await loadScenarios()).recommendations as HttpScenario;
const slo = await loadSlo();
const log = (line: string) => console.log(line);
const WINDOW_SEC = 20;
const base: Omit<RampPlan, 'ramp' | 'floor' | 'quietRate'> = {
  scenarioName: 'recommendations',
  scenario,
  service: 'recommendations',
  rampSec: 120,
  holdSec: 60,
  quietSec: WINDOW_SEC + 3 * (syncMs / 1000) + 30,
  onProgress: log,
};

async function local(): Promise<RampResult> {
  log(`local cluster (k8s/overlays/local-autoscaling), HPA sync every ${syncMs / 1000} s: starting …`);
  const cluster = await startLocalCluster({
    overlayDir: join(REPO_ROOT, 'k8s', 'overlays', 'local-autoscaling'),
    stateDir: mkdtempSync(join(tmpdir(), 'strata-autoscaling-')),
    gatewayPort: await freePort(),
    basePort: 23_000,
    ephemeralDatabase: true,
    watchOverlay: false,
    autoscaling: { syncPeriodMs: syncMs },
    extraEnv: { LOG_LEVEL: 'warn', SHUTDOWN_DELAY_MS: '200', DRAIN_TIMEOUT_MS: '5000' },
  });
  const events: string[] = [];
  cluster.supervisor.on('event', (line: string) => events.push(line));
  const subject: AutoscalingSubject = {
    name: 'local cluster (npm start: processes, no CPU limit)',
    baseUrl: cluster.gatewayUrl,
    desired: () =>
      new Map(
        cluster.supervisor
          .services()
          .filter((s) => s.layer !== 'data')
          .map((s) => [s.service, s.desired]),
      ),
    utilization: (service) => {
      const s = cluster.autoscaling!.status().find((a) => a.name === service)!;
      return { current: s.currentUtilization, target: s.targetUtilization };
    },
    events: () => events,
  };
  try {
    return await runRamp(subject, { ...base, ramp: { from: 5, to: 45 }, quietRate: 5, floor: 1 });
  } finally {
    await cluster.stop();
  }
}

async function containers(): Promise<RampResult> {
  await requireDocker('the containers run is the minikube overlay executed in Docker');
  log(`containers (the minikube overlay on k8s:docker), HPA sync every ${syncMs / 1000} s: starting …`);
  const cluster = await DockerCluster.start({ name: 'autoscaling', imageMap: parseImageMap([]), hpaSyncPeriodMs: syncMs });
  try {
    cluster.apply(
      renderOverlay({
        overlayDir: join(REPO_ROOT, 'k8s', 'overlays', 'minikube'),
        tag: values.tag,
        workDir: join(cluster.stateDir, 'overlay'),
        extra: {
          patches: [
            {
              target: { kind: 'HorizontalPodAutoscaler' },
              patch: JSON.stringify([{ op: 'replace', path: '/spec/behavior/scaleDown/stabilizationWindowSeconds', value: WINDOW_SEC }]),
            },
          ],
        },
      }),
    );
    await cluster.waitForRollouts(180_000, 'strata');
    const subject: AutoscalingSubject = {
      name: 'containers (k8s:docker: the minikube overlay, 1-CPU limits)',
      baseUrl: cluster.nodePortUrl('strata', 'gateway'),
      desired: () => new Map(cluster.list('Deployment', 'strata').map((d) => [d.metadata.name, (d.spec.replicas as number) ?? 1])),
      utilization: (service) => {
        const s = cluster.snapshot().autoscalers.find((a) => a.name === service);
        return { current: s?.currentUtilization, target: s?.targetUtilization ?? 70 };
      },
      events: () => cluster.events().map((e) => `${e.object}: ${e.reason}: ${e.message}`),
    };
    return await runRamp(subject, { ...base, ramp: { from: 5, to: 30 }, quietRate: 3, floor: 1 });
  } finally {
    await cluster.stop({ removeVolumes: true });
  }
}

const stored = join(values.out!, 'autoscaling.json');
type Stored = { at: string; results: { runtime: string; runs: RampResult[] }[] };
const previous = values.redraw ? (JSON.parse(readFileSync(stored, 'utf8')) as Stored) : undefined;
const results = previous?.results ?? [];
const at = previous?.at ?? new Date().toISOString();
const runs = Number(values.runs);
const wanted = values.redraw ? [] : ['local', 'containers'].filter((r) => values.target === r || values.target === 'both');
for (const runtime of wanted) {
  const entry = { runtime, runs: [] as RampResult[] };
  for (let i = 1; i <= runs; i++) {
    log(`\n== ${runtime}: run ${i} of ${runs}`);
    entry.runs.push(runtime === 'local' ? await local() : await containers());
  }
  results.push(entry);
}
const sections: string[] = [];
for (const { runtime, runs: done } of results) {
  const chart = `autoscaling-${runtime}.svg`;
  writeFileSync(join(values.out!, chart), await rampChartSvg(done[0]!, slo.p99Ms));
  sections.push(rampSection(done[0]!, chart, slo.p99Ms), repeatsSection(done));
}
writeFileSync(join(values.out!, 'autoscaling.json'), JSON.stringify({ at, syncSeconds: syncMs / 1000, results }, null, 2));
writeFileSync(
  join(values.out!, 'autoscaling.md'),
  [
    '# A layer scaling itself',
    '',
    `Written by \`npm run report:autoscaling\` on ${at.slice(0, 10)} (HPA sync every ${syncMs / 1000} s, scale-down`,
    `stabilization window ${WINDOW_SEC} s; the ramp is the recommendations scenario through the gateway, open loop). The HPA`,
    'declarations of the overlays act through the same algorithm in both runtimes (@strata/autoscaler); on minikube the',
    'real HPA controller does, with metrics-server (`kubectl -n strata get hpa -w`). Each chart: offered and answered',
    "requests/s, every layer's desired replicas, p99 per second, and the CPU utilization the HPA read against its target",
    "(of the first run); below each, every run's figures with their median and range.",
    '',
    ...sections,
  ].join('\n'),
);
console.log(`\nwrote ${join(values.out!, 'autoscaling.md')} and ${results.map((r) => `autoscaling-${r.runtime}.svg`).join(', ')}`);
