#!/usr/bin/env node
// npm run k8s:validate — render every overlay, validate every object, check the policies. Exit 1 on any problem.
import { OVERLAYS, kubectlAvailable } from './render.js';
import { validateOverlay } from './validate.js';

if (!kubectlAvailable()) {
  console.error('kubectl is not installed here, so the overlays cannot be rendered (kubectl bundles kustomize).');
  console.error('Install kubectl (https://kubernetes.io/docs/tasks/tools/) and run `npm run k8s:validate` again.');
  process.exit(2);
}
let failed = false;
console.log(
  `${'OVERLAY'.padEnd(12)} ${'OBJECTS'.padEnd(8)} ${'REPLICAS (gateway catalog pricing orders recommendations)'.padEnd(58)} PROBLEMS`,
);
for (const overlay of OVERLAYS) {
  const report = validateOverlay(overlay);
  const replicas = ['gateway', 'catalog', 'pricing', 'orders', 'recommendations']
    .map((name) => report.objects.find((o) => o.kind === 'Deployment' && o.metadata.name === name)?.spec?.replicas ?? '?')
    .join(' ');
  console.log(`${overlay.padEnd(12)} ${String(report.objects.length).padEnd(8)} ${replicas.padEnd(58)} ${report.problems.length}`);
  for (const problem of report.problems) console.log(`  - ${problem}`);
  failed ||= report.problems.length > 0;
}
console.log(
  failed
    ? '\nk8s:validate FAILED'
    : '\nk8s:validate: every overlay renders, validates against the Kubernetes API schemas and meets the policies',
);
process.exit(failed ? 1 : 0);
