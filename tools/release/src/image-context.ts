import { cpSync, existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { shipsAtRunTime } from '@strata/service-registry';
import { imageProjects, PATCHES_DIR, projectGraph } from './content-tag.js';

/** The one Dockerfile of every service image (its header says what the staged context holds). */
export const DOCKERFILE = 'tools/release/image/Dockerfile';

/**
 * Stages the build context of `service`'s image in a new temporary folder: `manifests/` (root package.json, lockfile,
 * the package.json of the app and of each library Nx's graph says it depends on in production), `built/` (their
 * dist/, only what ships at run time: `shipsAtRunTime`) and `patches/` (the installed packages' patches). The Dockerfile copies the two folders whole, so which libraries ship is decided here,
 * from the graph, and never listed by hand. Returns the folder; the caller removes it.
 */
export async function stageImageContext(service: string, repoRoot: string): Promise<string> {
  const graph = await projectGraph();
  const dir = mkdtempSync(join(tmpdir(), `strata-image-${service}-`));
  for (const file of ['package.json', 'package-lock.json']) cpSync(join(repoRoot, file), join(dir, 'manifests', file));
  // The deps stage applies them after its `npm ci`, as the root's postinstall does on a checkout.
  mkdirSync(join(dir, PATCHES_DIR));
  if (existsSync(join(repoRoot, PATCHES_DIR))) cpSync(join(repoRoot, PATCHES_DIR), join(dir, PATCHES_DIR), { recursive: true });
  for (const project of await imageProjects(service, repoRoot)) {
    const root = graph.nodes[project]!.data.root;
    cpSync(join(repoRoot, root, 'package.json'), join(dir, 'manifests', root, 'package.json'));
    const dist = join(repoRoot, root, 'dist');
    if (!existsSync(dist)) throw new Error(`${root}/dist does not exist: build ${project} first (npm run images compiles it)`);
    mkdirSync(join(dir, 'built', root), { recursive: true });
    cpSync(dist, join(dir, 'built', root, 'dist'), { recursive: true, filter: (src) => shipsAtRunTime(src) });
  }
  return dir;
}
