#!/usr/bin/env node
// npm run release — build what changed (content-tagged images), then declare it: every service's tag goes into the
// `images:` of k8s/overlays/minikube and production. Commit the overlays: they say what runs. k8s:deploy applies them.
//   npm run release -- --overlays minikube --no-build --services catalog
import { exitOnMissingPrerequisite, parseCommandLine } from '@strata/preflight';
import { REPO_ROOT } from '@strata/service-registry';
import { DEFAULT_BASE_IMAGE } from './content-tag.js';
import { minikubeDockerEnv } from './docker.js';
import { RELEASED_OVERLAYS } from './overlay-images.js';
import { release } from './release.js';

exitOnMissingPrerequisite();
const { values } = parseCommandLine(import.meta.url, {
  options: {
    overlays: { type: 'string', description: 'the overlays to declare the tags in, comma-separated (default: minikube,production)' },
    services: { type: 'string', description: 'only these services, comma-separated (default: every declared service)' },
    'no-build': { type: 'boolean', default: false, description: 'declare the images built already instead of building what changed' },
    minikube: { type: 'boolean', default: false, description: "build inside minikube's Docker (minikube docker-env)" },
  },
});
const started = performance.now();
const overlays = values.overlays?.split(',') ?? [...RELEASED_OVERLAYS];
const result = await release({
  repoRoot: REPO_ROOT,
  overlays,
  services: values.services?.split(','),
  build: !values['no-build'],
  baseImage: process.env.STRATA_BASE_IMAGE || DEFAULT_BASE_IMAGE,
  env: values.minikube ? minikubeDockerEnv() : undefined,
  log: (line) => console.log(line),
});
for (const overlay of overlays) {
  const changes = result.changes[overlay]!;
  console.log(
    changes.length === 0
      ? `k8s/overlays/${overlay}: nothing changed; applying it rolls nothing`
      : `k8s/overlays/${overlay}: ${changes.map((c) => `${c.service} ${c.from ?? '(new)'} → ${c.to}`).join(', ')}`,
  );
}
console.log(`release declared in ${((performance.now() - started) / 1000).toFixed(1)} s; commit k8s/overlays to record it`);
