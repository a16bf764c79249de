import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { MissingPrerequisite, requireDocker } from '@strata/preflight';
import { loadServices, SERVICE_NODE_OPTIONS } from '@strata/service-registry';
import { contentTag, DEFAULT_BASE_IMAGE } from './content-tag.js';
import { imageExists, imageSize } from './docker.js';
import { DOCKERFILE, stageImageContext } from './image-context.js';

export interface BuiltImage {
  service: string;
  tag: string;
  image: string;
  sizeBytes: number;
  /** built now, or already there (the same inputs were built before: nothing to do). */
  status: 'built' | 'unchanged';
  seconds: number;
}

export interface ImageOptions {
  repoRoot: string;
  services?: string[];
  baseImage?: string;
  /** Also tag each image with this mutable tag for local use (`dev`); never written into a released overlay. */
  alias?: string;
  /** Where docker builds (minikube's engine with `minikube docker-env`). */
  env?: NodeJS.ProcessEnv;
  log?: (line: string) => void;
}

/** The content tag of every service's image, without building anything. */
export async function contentTags(
  repoRoot: string,
  services: readonly string[],
  baseImage = DEFAULT_BASE_IMAGE,
): Promise<Record<string, string>> {
  const tags: Record<string, string> = {};
  for (const service of services) tags[service] = await contentTag(service, repoRoot, baseImage);
  return tags;
}

/**
 * Compiles the apps (and the libraries they use) with Nx: an image copies their `dist/`, so an image built without this
 * would carry the last compiled code under the tag of the current sources.
 */
export function compileApps(repoRoot: string, services: readonly string[], log?: (line: string) => void): void {
  log?.(`==> compiling ${services.join(', ')} (nx build)`);
  execFileSync(
    'npx',
    ['nx', 'run-many', '-t', 'build', `--projects=${services.map((s) => `@strata/${s}`).join(',')}`, '--output-style=static'],
    { cwd: repoRoot, stdio: ['ignore', 'ignore', 'inherit'] },
  );
}

/**
 * Builds `strata/<service>:<content tag>` for every service whose image with that tag does not exist yet, compiling
 * those apps first; an existing one is left alone (same inputs, same image).
 */
export async function buildImages(options: ImageOptions): Promise<BuiltImage[]> {
  const env = options.env ?? process.env;
  const docker = requireDocker('the images are built with Docker: start it (`dockerd`, or Docker Desktop), then run this again', env);
  const base = options.baseImage ?? DEFAULT_BASE_IMAGE;
  const services = options.services ?? loadServices(options.repoRoot).names;
  const tags = await contentTags(options.repoRoot, services, base);
  const missing = services.filter((service) => !imageExists(docker, `strata/${service}:${tags[service]}`, env));
  if (missing.length > 0) requireBaseImage(docker, base, env, options.log);
  // BuildKit where the client has it (buildx: Docker Desktop, docker-ce, minikube's engine); the legacy builder, which
  // Docker deprecates, only where it has not (Debian's docker.io client has no buildx).
  const buildkit = missing.length > 0 && spawnSync(docker, ['buildx', 'version'], { stdio: 'ignore', env }).status === 0;
  if (missing.length > 0)
    options.log?.(`==> builder: ${buildkit ? 'BuildKit (docker buildx)' : 'the legacy builder (this docker client has no buildx)'}`);
  if (missing.length > 0) compileApps(options.repoRoot, missing, options.log);
  const patchPackage = lockedVersion(options.repoRoot, 'patch-package');
  // Two builds at a time: most of a build is its `npm ci` from the registry (40–60 s each, one after another, in a CI
  // run here), which waits on the network more than on the two cores.
  const seconds = new Map<string, number>();
  let next = 0;
  const builder = async () => {
    while (next < services.length) {
      const i = next++;
      const service = services[i]!;
      const image = `strata/${service}:${tags[service]}`;
      const exists = !missing.includes(service);
      options.log?.(`==> [${i + 1}/${services.length}] ${image} ${exists ? '(unchanged: already built)' : `(base ${base}) …`}`);
      const started = performance.now();
      if (!exists) {
        const context = await stageImageContext(service, options.repoRoot);
        const build = promisify(execFile)(
          docker,
          [
            'build',
            '-q',
            '--build-arg',
            `BASE_IMAGE=${base}`,
            '--label',
            `org.opencontainers.image.version=${tags[service]}`,
            '--build-arg',
            `APP=${service}`,
            '--build-arg',
            `SERVICE_NODE_OPTIONS=${SERVICE_NODE_OPTIONS}`,
            '--build-arg',
            `PATCH_PACKAGE=${patchPackage}`,
            '-f',
            join(options.repoRoot, DOCKERFILE),
            '-t',
            image,
            context,
          ],
          { cwd: options.repoRoot, env: { ...env, DOCKER_BUILDKIT: buildkit ? '1' : '0' }, maxBuffer: 64 * 1024 * 1024 },
        );
        build.child.stderr?.pipe(process.stderr);
        try {
          await build;
        } finally {
          rmSync(context, { recursive: true, force: true });
        }
      }
      seconds.set(service, (performance.now() - started) / 1000);
    }
  };
  await Promise.all([builder(), builder()]);
  const out: BuiltImage[] = [];
  for (const service of services) {
    const image = `strata/${service}:${tags[service]}`;
    const exists = !missing.includes(service);
    if (options.alias) execFileSync(docker, ['tag', image, `strata/${service}:${options.alias}`], { env });
    out.push({
      service,
      tag: tags[service]!,
      image,
      sizeBytes: imageSize(docker, image, env),
      status: exists ? 'unchanged' : 'built',
      seconds: seconds.get(service)!,
    });
  }
  return out;
}

/**
 * Checks that the base image is here or can be pulled, before anything compiles: without a registry (an offline
 * machine, CI here) the default cannot be had, and the way out is a local base.
 */
function requireBaseImage(docker: string, base: string, env: NodeJS.ProcessEnv, log?: (line: string) => void): void {
  if (imageExists(docker, base, env)) return;
  log?.(`==> docker pull ${base} (the base image is not here yet)`);
  const pull = spawnSync(docker, ['pull', '-q', base], { encoding: 'utf8', env });
  if (pull.status === 0) return;
  const why = pull.stderr.trim().split('\n').pop();
  throw new MissingPrerequisite(
    `the base image ${base} is not here and cannot be pulled (${why}): build a local one with \`npm run images:ci-base\` ` +
      `(strata/node-base:24, from this machine's Node 24), then STRATA_BASE_IMAGE=strata/node-base:24 npm run images`,
  );
}

export function imagesTable(images: readonly BuiltImage[]): string {
  const rows = images.map((i) => [
    i.service,
    i.tag,
    `${Math.round(i.sizeBytes / 1e6)} MB`,
    i.status === 'built' ? `built in ${i.seconds.toFixed(0)} s` : 'unchanged',
  ]);
  const header = ['SERVICE', 'TAG', 'SIZE', 'STATUS'];
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  return [header, ...rows]
    .map((r) =>
      r
        .map((v, c) => v.padEnd(widths[c]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** The version of `name` the lockfile installs (the images apply the patches with the patch-package a checkout uses). */
export function lockedVersion(repoRoot: string, name: string): string {
  const lock = JSON.parse(readFileSync(join(repoRoot, 'package-lock.json'), 'utf8')) as { packages: Record<string, { version?: string }> };
  const version = lock.packages[`node_modules/${name}`]?.version;
  if (!version) throw new Error(`package-lock.json installs no ${name}: npm install --save-dev ${name}`);
  return version;
}
