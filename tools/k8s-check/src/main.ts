#!/usr/bin/env node
// npm run k8s:validate — render every overlay, validate every object, check the policies and that the manifests agree
// with the service declarations (apps/<name>/service.json). Exit 1 on any problem.
import { exitOnMissingPrerequisite, kustomizeMissing, MissingPrerequisite } from '@strata/preflight';
import { loadServices } from '@strata/service-registry';
import { OVERLAYS } from './render.js';
import { validateOverlay } from './validate.js';

exitOnMissingPrerequisite();
const noKustomize = kustomizeMissing();
if (noKustomize) throw new MissingPrerequisite(`${noKustomize}, then npm run k8s:validate`);
let failed = false;
const services = loadServices().names;
const header = `REPLICAS (${services.join(' ')})`;
console.log(`${'OVERLAY'.padEnd(26)} ${'OBJECTS'.padEnd(8)} ${header.padEnd(58)} PROBLEMS`);
for (const overlay of OVERLAYS) {
  const report = validateOverlay(overlay);
  const replicas = services
    .map((name) => report.objects.find((o) => o.kind === 'Deployment' && o.metadata.name === name)?.spec?.replicas ?? '?')
    .join(' ');
  console.log(
    `${overlay.padEnd(26)} ${String(report.objects.length).padEnd(8)} ${replicas.padEnd(Math.max(58, header.length))} ${report.problems.length}`,
  );
  for (const problem of report.problems) console.log(`  - ${problem}`);
  for (const note of report.notes) console.log(`  (${note})`);
  failed ||= report.problems.length > 0;
}
console.log(
  failed
    ? '\nk8s:validate FAILED'
    : '\nk8s:validate: every overlay renders, validates against the Kubernetes API schemas and meets the policies',
);
process.exit(failed ? 1 : 0);
