#!/usr/bin/env node
// npm run images — compiles the apps, then builds strata/<service>:<content tag> for every service whose image with
// that tag does not exist yet, tags each :dev as well (for local use only), and prints service, tag, size.
//   STRATA_BASE_IMAGE=strata/node-base:24 npm run images      another base (CI: from this machine's Node 24)
//   npm run images -- --minikube                              build inside minikube's Docker (minikube docker-env)
//   npm run images -- --services catalog,pricing
import { execFileSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { loadServices, REPO_ROOT } from '@strata/service-registry';
import { DEFAULT_BASE_IMAGE } from './content-tag.js';
import { minikubeDockerEnv } from './docker.js';
import { buildImages, imagesTable } from './images.js';

const { values } = parseArgs({ options: { services: { type: 'string' }, minikube: { type: 'boolean', default: false } } });
const services = values.services?.split(',') ?? loadServices().names;
console.log('==> compiling the apps (nx build)');
execFileSync(
  'npx',
  ['nx', 'run-many', '-t', 'build', `--projects=${services.map((s) => `@strata/${s}`).join(',')}`, '--output-style=static'],
  {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'ignore', 'inherit'],
  },
);
const images = await buildImages({
  repoRoot: REPO_ROOT,
  services,
  baseImage: process.env.STRATA_BASE_IMAGE || DEFAULT_BASE_IMAGE,
  alias: 'dev',
  env: values.minikube ? minikubeDockerEnv() : undefined,
  log: (line) => console.log(line),
});
console.log(`\n${imagesTable(images)}`);
