#!/usr/bin/env node
// npm run images — builds strata/<service>:<content tag> for every service whose image with
// that tag does not exist yet (compiling those apps first), tags each :dev as well (for local use only), and prints service, tag, size.
//   STRATA_BASE_IMAGE=strata/node-base:24 npm run images      another base (CI: from this machine's Node 24)
//   npm run images -- --minikube                              build inside minikube's Docker (minikube docker-env)
//   npm run images -- --services catalog,pricing
import { exitOnMissingPrerequisite, parseCommandLine } from '@strata/preflight';
import { loadServices, REPO_ROOT } from '@strata/service-registry';
import { DEFAULT_BASE_IMAGE } from './content-tag.js';
import { minikubeDockerEnv } from './docker.js';
import { buildImages, imagesTable } from './images.js';

exitOnMissingPrerequisite();
const { values } = parseCommandLine(import.meta.url, {
  options: {
    services: { type: 'string', description: 'only these services, comma-separated (default: every declared service)' },
    minikube: { type: 'boolean', default: false, description: "build inside minikube's Docker (minikube docker-env)" },
  },
});
const services = values.services?.split(',') ?? loadServices().names;
const images = await buildImages({
  repoRoot: REPO_ROOT,
  services,
  baseImage: process.env.STRATA_BASE_IMAGE || DEFAULT_BASE_IMAGE,
  alias: 'dev',
  env: values.minikube ? minikubeDockerEnv() : undefined,
  log: (line) => console.log(line),
});
console.log(`\n${imagesTable(images)}`);
