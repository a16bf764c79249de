import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createProjectGraphAsync, type ProjectGraph } from '@nx/devkit';
import { SERVICE_NODE_OPTIONS } from '@strata/service-registry';

/** The base image of every service image unless STRATA_BASE_IMAGE says otherwise (the Dockerfile's ARG default). */
export const DEFAULT_BASE_IMAGE = 'node:24-bookworm-slim';
/** A content tag: the first 12 hex digits of the SHA-256 of an image's inputs. */
export const CONTENT_TAG = /^[0-9a-f]{12}$/;
/** Inputs of every image, whatever the service: the lockfile decides every installed package, the base config every
 * build, and every image is built from the one Dockerfile. */
const SHARED_INPUTS = ['package.json', 'package-lock.json', 'tsconfig.base.json', 'tools/release/image/Dockerfile'];
/** The patches of installed packages (patch-package; docs/grpc-js-patches.md): every image applies them all. */
export const PATCHES_DIR = 'patches';
/** The contracts are generated from proto/ at build time: their inputs are the .proto files and buf's config. */
const GENERATED_FROM: Record<string, string[]> = { '@strata/contracts': ['proto'] };
/** What a project folder holds that does not go into its image (tests, docs); build output is ignored by .gitignore. */
const NOT_AN_INPUT = /\.spec\.ts$|(^|\/)README\.md$/;

/**
 * The root .gitignore as matchers (its forms in this repository: `dir/` anywhere or as a path, `*.suffix`, a path):
 * build output, generated code (libs/contracts/src) and local state are no inputs. Read from the file rather than asked
 * of git, so that tags can be computed in a copy of the repository that is no git checkout (the generator's test).
 */
function ignoredBy(repoRoot: string): (path: string) => boolean {
  const file = join(repoRoot, '.gitignore');
  const patterns = existsSync(file)
    ? readFileSync(file, 'utf8')
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l && !l.startsWith('#'))
    : [];
  return (path) =>
    patterns.some((p) => {
      if (p.startsWith('*.')) return path.endsWith(p.slice(1));
      if (p.endsWith('/')) {
        const dir = p.slice(0, -1);
        return dir.includes('/') ? path.startsWith(`${dir}/`) : `/${path}`.includes(`/${dir}/`);
      }
      return path === p || path.startsWith(p.replace(/\*.*$/, ''));
    });
}

/** Every file under `dir` (relative to the repository), .gitignore's patterns applied. */
function filesUnder(repoRoot: string, dir: string, ignored: (path: string) => boolean): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const entry of readdirSync(join(repoRoot, rel), { withFileTypes: true })) {
      const path = `${rel}/${entry.name}`;
      if (ignored(entry.isDirectory() ? `${path}/` : path)) continue;
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile()) out.push(path);
    }
  };
  if (existsSync(join(repoRoot, dir))) walk(dir);
  return out;
}

let graph: Promise<ProjectGraph> | undefined;
/** Nx's project graph of the workspace (computed once per process, without the daemon). */
export function projectGraph(): Promise<ProjectGraph> {
  process.env.NX_DAEMON ??= 'false';
  return (graph ??= createProjectGraphAsync({ exitOnError: false }));
}

/**
 * The project of `service` and every workspace library its image holds: Nx's project graph, followed along production
 * dependencies only (`dependencies` of each package.json; the image is installed with --omit=dev, so the dev kit and
 * other dev dependencies that Nx's graph also links are not in it).
 */
export async function imageProjects(service: string, repoRoot: string): Promise<string[]> {
  const g = await projectGraph();
  const seen = new Set<string>();
  const visit = (name: string) => {
    const node = g.nodes[name];
    if (seen.has(name) || !node) return;
    seen.add(name);
    const manifest = JSON.parse(readFileSync(join(repoRoot, node.data.root, 'package.json'), 'utf8')) as {
      dependencies?: Record<string, string>;
    };
    const production = new Set(Object.keys(manifest.dependencies ?? {}));
    for (const dep of g.dependencies[name] ?? []) if (production.has(dep.target)) visit(dep.target);
  };
  visit(`@strata/${service}`);
  if (seen.size === 0) throw new Error(`Nx knows no project @strata/${service}`);
  return [...seen].sort();
}

/** The files an image of `service` is built from: its project's, its libraries', what they are generated from, the lockfile, the patches. */
export async function imageInputs(service: string, repoRoot: string): Promise<string[]> {
  const g = await projectGraph();
  const projects = await imageProjects(service, repoRoot);
  const roots = projects.flatMap((p) => [g.nodes[p]!.data.root, ...(GENERATED_FROM[p] ?? [])]);
  const ignored = ignoredBy(repoRoot);
  const listed = [...roots, PATCHES_DIR].flatMap((root) => filesUnder(repoRoot, root, ignored)).filter((f) => !NOT_AN_INPUT.test(f));
  return [...new Set([...listed, ...SHARED_INPUTS])].sort();
}

/**
 * The content tag of `service`'s image: SHA-256 over every input file (path and content) and the base image reference,
 * first 12 hex digits. The same inputs give the same tag on any machine and at any time; a change to the app, a library
 * it uses, the lockfile, the Dockerfile, the services' Node options or the base reference gives a new one. The base is taken by reference (as the
 * Dockerfile's FROM names it): pin it (`node:24.21.0-bookworm-slim`, or a digest) to make a new base a new tag.
 */
export async function contentTag(service: string, repoRoot: string, baseImage = DEFAULT_BASE_IMAGE): Promise<string> {
  const hash = createHash('sha256');
  for (const file of await imageInputs(service, repoRoot)) {
    let content: Buffer;
    try {
      content = readFileSync(join(repoRoot, file));
    } catch {
      continue; // deleted in the working tree but still listed by git: not an input any more
    }
    hash.update(`${file}\0${createHash('sha256').update(content).digest('hex')}\n`);
  }
  hash.update(`base\0${baseImage}\n`);
  hash.update(`node-options\0${SERVICE_NODE_OPTIONS}\n`); // a build argument of the one Dockerfile
  return hash.digest('hex').slice(0, 12);
}
