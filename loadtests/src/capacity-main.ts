#!/usr/bin/env node
// npm run capacity — for each layer: hold the others fixed, step its replicas live (1 → 2 → 4), find the
// highest arrival rate that meets the SLO, and measure a control endpoint that does not touch the layer.
import { parseArgs } from 'node:util';
import { spawnSync } from 'node:child_process';
import { loadServices } from '@strata/service-registry';
import { ContainerTopology, POSTGRES_CPUS, type ServiceName } from './capacity/container-topology.js';
import { runLayer, type ExperimentTarget, type LayerPlan } from './capacity/experiment.js';
import { layerTable, writeReports, type LayerReport } from './capacity/report.js';
import { ContainersTarget, KubernetesTarget } from './capacity/targets.js';

const { values } = parseArgs({
  options: {
    target: { type: 'string', default: 'containers' },
    layers: { type: 'string', default: 'catalog,recommendations' },
    steps: { type: 'string', default: '1,2,4' },
    'probe-seconds': { type: 'string', default: '5' },
    refinements: { type: 'string', default: '3' },
    out: { type: 'string', default: 'reports' },
    tag: { type: 'string', default: process.env.TAG ?? 'dev' },
    'base-url': { type: 'string' },
    smoke: { type: 'boolean', default: false },
  },
});

const registry = loadServices();
/** Per layer, from its declaration (apps/<name>/service.json): what limits it, its control, its CPU quota per replica. */
const PLANS: Record<string, LayerPlan & { cpus: number }> = Object.fromEntries(
  registry.services.map((s) => [
    s.name,
    {
      service: s.name,
      layer: s.layer,
      scenario: s.capacity.scenario,
      control: s.capacity.control,
      controlRate: s.capacity.controlRate,
      sloP99Ms: s.capacity.sloP99Ms,
      startRate: s.capacity.startRate,
      cpus: s.capacity.cpusPerReplica,
    },
  ]),
);
/** Fixed quotas of the services that are not being stepped (declared as capacity.fixedCpus): generous, so they never limit. */
const FIXED_CPUS: Record<ServiceName, number> = {
  postgres: POSTGRES_CPUS,
  ...Object.fromEntries(registry.services.map((s) => [s.name, s.capacity.fixedCpus])),
};

const log = (line: string) => console.log(line);
const time = () => new Date().toISOString().slice(11, 19);
const layers = (values.smoke ? 'catalog' : values.layers!).split(',');
const steps = (values.smoke ? '1,2' : values.steps!).split(',').map(Number);
const probeSeconds = Number(values.smoke ? 4 : values['probe-seconds']);
const refinements = Number(values.smoke ? 1 : values.refinements);
const out = values.smoke ? `${values.out}/smoke` : values.out!;

if (
  values.target === 'containers' &&
  spawnSync('docker', ['info'], { stdio: 'ignore' }).status !== 0 &&
  spawnSync('/usr/bin/docker', ['info'], { stdio: 'ignore' }).status !== 0
) {
  console.error('No Docker engine answers here. Use --target k8s --base-url <gateway URL> against a cluster, or start Docker.');
  console.error('(A local-processes mode is not offered: local replicas cannot be added live without restarting their callers.)');
  process.exit(2);
}

const reports: LayerReport[] = [];
for (const name of layers) {
  const plan = PLANS[name];
  if (!plan) throw new Error(`unknown layer ${name}; known: ${Object.keys(PLANS).join(', ')}`);
  console.log(`\n${time()} == ${plan.service} (${plan.layer}) on ${values.target}: steps ${steps.join(' → ')}`);
  const startedAt = new Date().toISOString();
  let target: ExperimentTarget;
  let topology: ContainerTopology | undefined;
  if (values.target === 'k8s') {
    if (!values['base-url']) throw new Error('--target k8s needs --base-url (e.g. $(minikube service gateway -n strata --url))');
    const k8s = new KubernetesTarget(values['base-url']);
    k8s.reset(plan.service, steps[0]!);
    target = k8s;
  } else {
    console.log(`${time()} starting the topology (containers, ${plan.service} at ${plan.cpus} CPU per replica)`);
    topology = await ContainerTopology.start({
      tag: values.tag!,
      replicas: { ...Object.fromEntries(['postgres', ...registry.names].map((n) => [n, 1])), [plan.service]: steps[0]! },
      cpus: { ...FIXED_CPUS, [plan.service]: plan.cpus },
      log,
    });
    target = new ContainersTarget(topology);
  }
  try {
    // One order to read back: the control endpoint of the layers that do not contain orders.
    const placed = await fetch(`${target.baseUrls()[0]}/api/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': `capacity-${Date.now()}` },
      body: JSON.stringify({ lines: [{ productId: 'p-000042', quantity: 1 }] }),
    });
    const order = (await placed.json()) as { id: string };
    const steps_ = await runLayer(target, plan, { steps, probeSeconds, refinements, log }, { runId: `${Date.now()}`, orderId: order.id });
    const report: LayerReport = {
      plan,
      target: values.target!,
      cpusPerReplica: values.target === 'k8s' ? Number.NaN : plan.cpus,
      steps: steps_,
      startedAt,
      finishedAt: new Date().toISOString(),
    };
    reports.push(report);
    console.log(`\n${layerTable(report)}\n`);
  } finally {
    await topology?.stop();
  }
}
const files = writeReports(out, reports);
console.log(`${time()} wrote ${files.join(', ')}`);

if (values.smoke) {
  // The claim, qualitatively: capacity rises with replicas, the control does not degrade, nothing fails.
  const [one, two] = reports[0]!.steps;
  const problems: string[] = [];
  // "Rises", not "doubles": single short runs on a shared 2-core machine vary too much for a tighter bound.
  if (!(two!.capacity > one!.capacity)) problems.push(`capacity did not rise: ${one!.capacity} → ${two!.capacity} req/s`);
  if (!(two!.controlP99Ms <= Math.max(1.5 * one!.controlP99Ms, one!.controlP99Ms + 25)))
    problems.push(`control p99 degraded: ${one!.controlP99Ms.toFixed(1)} → ${two!.controlP99Ms.toFixed(1)} ms`);
  if (two!.scaleOut!.failed > 0) problems.push(`${two!.scaleOut!.failed} requests failed during the scale-out`);
  if (two!.scaleOut!.othersRestarted) problems.push('another service restarted during the scale-out');
  if (two!.controlFailed > 0 || one!.controlFailed > 0) problems.push('control requests failed');
  console.log(
    problems.length
      ? `capacity smoke FAILED:\n  ${problems.join('\n  ')}`
      : 'capacity smoke: capacity rose with replicas, the control endpoint held, no request failed',
  );
  process.exit(problems.length ? 1 : 0);
}
