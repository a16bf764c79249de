/**
 * The change loop's compiler, in a worker thread so that a compile never stalls the control loop or the live page:
 * TypeScript's own incremental watch builder (`tsc -b --watch`, as an API) over the apps' project references.
 *
 * Why not `nx run <app>:build` per save (docs/architecture.md, §17 "Save and roll"): measured here, one save of pricing
 * took 6.1 s through Nx with its daemon off (as under CI): 2.2 s to start Nx and hash the graph, then `tsc -b` cold
 * (2.8 s: every declaration file parsed again). The watch builder keeps its programs between builds and rebuilds
 * pricing in about 1 s, which the 5 s save-to-new-code goal needs. It reads the same tsconfig files and writes the same
 * dist as the Nx target; Nx stays the graph (which apps a change reaches) and the build of `npm start` and CI.
 *
 * The first build compiles every project once (`force`: 14.3 s and 21 s of CPU here, in the background once the
 * replicas are up) so that each project's program is loaded: the builder creates a program on a project's first
 * change otherwise, and that first save cost 3.0–7.6 s against 1.3–1.7 s for every later one. The sources did not
 * change, so what it writes is what was there.
 *
 * Messages to the parent: `{ kind: 'started' }` when the builder notices a change and begins a build, and a
 * CompileCycle at the end of every build.
 */
import { relative } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import ts from 'typescript';

/** The builder noticed a change and began a build: a CompileCycle follows when it ends. */
export interface CompileStarted {
  kind: 'started';
}

export interface CompileCycle {
  kind: 'cycle';
  /** Project folders the builder compiled in this cycle ("apps/pricing", "libs/service-kit"). */
  built: string[];
  /** The compiler's messages, formatted as `tsc` prints them ("apps/pricing/src/x.ts(3,5): error TS2322: …"). */
  errors: string[];
  /** How long the cycle compiled, from the change the compiler noticed (or from the start, for the first). */
  compileMs: number;
  /** The first cycle: every project compiled once at start. */
  initial: boolean;
}

const { repoRoot, configs } = workerData as { repoRoot: string; configs: string[] };
const formatHost: ts.FormatDiagnosticsHost = {
  getCanonicalFileName: (f) => f,
  getCurrentDirectory: () => repoRoot,
  getNewLine: () => '\n',
};
let built = new Set<string>();
let errors: string[] = [];
let began: number | undefined = performance.now();
let initial = true;

const host = ts.createSolutionBuilderWithWatchHost(
  ts.sys,
  ts.createEmitAndSemanticDiagnosticsBuilderProgram,
  (diagnostic) => errors.push(ts.formatDiagnostic(diagnostic, formatHost).trimEnd()),
  undefined,
  (diagnostic) => {
    // 6032: "File change detected. Starting incremental compilation..."
    if (diagnostic.code === 6032 && began === undefined) {
      began = performance.now();
      parentPort!.postMessage({ kind: 'started' } satisfies CompileStarted);
    }
    // 6193/6194: "Found N error(s). Watching for file changes." — the end of a build cycle.
    if (diagnostic.code !== 6193 && diagnostic.code !== 6194) return;
    const compileMs = began === undefined ? 0 : Math.round(performance.now() - began);
    began = undefined;
    const cycle: CompileCycle = { kind: 'cycle', built: [...built], errors, compileMs, initial };
    initial = false;
    built = new Set();
    errors = [];
    parentPort!.postMessage(cycle);
  },
);
host.afterProgramEmitAndDiagnostics = (program) => {
  const config = program.getCompilerOptions().configFilePath;
  if (typeof config === 'string') built.add(relative(repoRoot, config).replace(/\/tsconfig\.json$/, ''));
};
ts.createSolutionBuilderWithWatch(host, configs, { preserveWatchOutput: true, force: true }).build();
