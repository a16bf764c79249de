import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import { join, relative } from 'node:path';
import { createProjectGraphAsync, type ProjectGraph } from '@nx/devkit';
import { shipsAtRunTime } from '@strata/service-registry';
import type { Revision } from './supervisor.js';

/** One workspace project as the change loop needs it: where it lives and what it ships with at run time. */
export interface WorkspaceProject {
  /** The npm name ("@strata/service-kit"). */
  name: string;
  /** Relative to the repository: "libs/service-kit". */
  root: string;
  /** Workspace projects it imports at run time: the Nx graph's edges that its package.json lists as dependencies. */
  runtimeDependencies: string[];
}

/** The workspace's projects, from the Nx project graph. */
export class Workspace {
  readonly projects: ReadonlyMap<string, WorkspaceProject>;

  constructor(projects: Iterable<WorkspaceProject>) {
    this.projects = new Map([...projects].map((p) => [p.name, p]));
  }

  /**
   * Reads Nx's project graph (the same graph `nx affected` and `^build` follow). An edge counts at run time when the
   * importing project's package.json lists the target under `dependencies`: the graph also has the edges of its
   * tests (devDependencies: dev-kit, fast-check), which no image and no revision ships.
   */
  static async load(repoRoot: string): Promise<Workspace> {
    const graph: ProjectGraph = await createProjectGraphAsync({ exitOnError: false });
    return new Workspace(
      Object.values(graph.nodes).map((node) => {
        const manifest = JSON.parse(readFileSync(join(repoRoot, node.data.root, 'package.json'), 'utf8')) as {
          dependencies?: Record<string, string>;
        };
        const runtime = new Set(Object.keys(manifest.dependencies ?? {}));
        const targets = (graph.dependencies[node.name] ?? []).map((d) => d.target).filter((t) => graph.nodes[t] && runtime.has(t));
        return { name: node.name, root: node.data.root, runtimeDependencies: [...new Set(targets)] };
      }),
    );
  }

  /** `name` and every workspace project it needs at run time, transitively. */
  runtimeClosure(name: string): WorkspaceProject[] {
    const seen = new Map<string, WorkspaceProject>();
    const visit = (n: string) => {
      const project = this.projects.get(n);
      if (!project || seen.has(n)) return;
      seen.set(n, project);
      project.runtimeDependencies.forEach(visit);
    };
    visit(name);
    return [...seen.values()];
  }

  /** The project a repository path belongs to ("apps/pricing/src/x.ts" → @strata/pricing), if any. */
  projectOf(path: string): WorkspaceProject | undefined {
    return [...this.projects.values()].find((p) => path === p.root || path.startsWith(`${p.root}/`));
  }

  /** Of `apps` (project name → service), those whose run-time closure holds one of `changed` (project names). */
  affected(changed: ReadonlySet<string>, apps: ReadonlyMap<string, string>): string[] {
    return [...apps].filter(([project]) => this.runtimeClosure(project).some((p) => changed.has(p.name))).map(([, service]) => service);
  }
}

/**
 * Immutable builds of the services, as images are for a cluster's pods. A snapshot copies a service's built app and
 * the workspace libraries it imports at run time (package.json and dist of each) into a folder that mirrors the
 * repository (apps/<name>, libs/<lib>, node_modules/@strata/<lib> → ../../libs/<lib>), so a replica started from it
 * keeps running that code — and restarts into it — while the working tree's dist is rebuilt. Third-party packages
 * resolve through `<store>/node_modules`, a link to the repository's. Same content, same revision: a build whose
 * shipped files did not change (a test or a type edited) is not a new revision and rolls nothing.
 */
export class RevisionStore {
  private readonly byService = new Map<string, { digest: string; revision: Revision }[]>();

  constructor(
    private readonly repoRoot: string,
    private readonly dir: string,
    private readonly workspace: Workspace,
  ) {
    rmSync(dir, { recursive: true, force: true }); // no replica of an earlier run still runs from here
    mkdirSync(dir, { recursive: true });
    symlinkSync(join(repoRoot, 'node_modules'), join(dir, 'node_modules'), 'dir');
  }

  /** The revisions of `service` made so far, oldest first. */
  history(service: string): Revision[] {
    return (this.byService.get(service) ?? []).map((r) => r.revision);
  }

  /**
   * Snapshots the current build of `service` (its app project is `project`); returns the revision and whether it is
   * new. Its digest is over every shipped file's path and bytes.
   */
  snapshot(service: string, project: string): { revision: Revision; fresh: boolean } {
    const staging = join(this.dir, service, `.staging-${process.pid}`);
    rmSync(staging, { recursive: true, force: true });
    const hash = createHash('sha256');
    for (const p of this.workspace.runtimeClosure(project)) {
      const from = join(this.repoRoot, p.root);
      if (!existsSync(join(from, 'dist'))) throw new Error(`${p.name} has no build (${p.root}/dist): build it first`);
      const to = join(staging, p.root);
      cpSync(join(from, 'package.json'), join(to, 'package.json'));
      cpSync(join(from, 'dist'), join(to, 'dist'), { recursive: true, filter: (source) => shipsAtRunTime(source) });
      if (p.name !== project) {
        const link = join(staging, 'node_modules', p.name);
        mkdirSync(join(link, '..'), { recursive: true });
        symlinkSync(relative(join(link, '..'), to), link, 'dir');
      }
    }
    for (const file of filesUnder(staging)) {
      if (file.startsWith('node_modules/')) continue;
      hash
        .update(`${file}\0`)
        .update(readFileSync(join(staging, file)))
        .update('\0');
    }
    const digest = hash.digest('hex');
    const known = this.byService.get(service) ?? [];
    this.byService.set(service, known);
    const same = known.find((r) => r.digest === digest);
    if (same) {
      rmSync(staging, { recursive: true, force: true });
      return { revision: same.revision, fresh: false };
    }
    const label = `r${known.length + 1}-${digest.slice(0, 7)}`;
    const root = join(this.dir, service, label);
    renameSync(staging, root);
    const revision = { label, root };
    known.push({ digest, revision });
    return { revision, fresh: true };
  }
}

/** Every file under `dir`, relative and sorted (symbolic links are not followed). */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .sort();
}
