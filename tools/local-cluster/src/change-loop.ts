import { execFile } from 'node:child_process';
import { watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify } from 'node:util';
import { Worker } from 'node:worker_threads';
import type { CompileCycle, CompileStarted } from './compile-worker.js';
import { LAYER_ORDER, type ServiceTemplate } from './local-plan.js';
import { RevisionStore, Workspace } from './revisions.js';
import { RolloutFailed, type Supervisor } from './supervisor.js';

const run = promisify(execFile);

/** Where the change loop's events appear in `npm run status` and on the live page. */
export const CHANGE_LOOP = 'change loop';

export interface ChangeLoopOptions {
  repoRoot: string;
  /** Where the revisions are kept (`<stateDir>/revisions`). */
  stateDir: string;
  supervisor: Supervisor;
  /** The services it builds and rolls (the data layer is not built from this repository). */
  templates: readonly ServiceTemplate[];
}

/** `npm start -- --watch`: saved code rolls out, service by service, as a Deployment rolls out a new image. */
export interface ChangeLoop {
  /** Resolves when the compiler's first build is done and nothing is compiling, queued or rolling (tests). */
  idle(): Promise<void>;
  stop(): Promise<void>;
}

type Work = CompileCycle | { kind: 'proto' };

/**
 * Prepares the change loop before the cluster starts: every service's current build becomes its first revision, so
 * the replicas start from immutable copies. `start()` then follows the sources:
 *
 * 1. a saved `.ts` under apps/ or libs/ is compiled by TypeScript's incremental watch builder (compile-worker.ts);
 *    a build with errors rolls nothing and prints the compiler's messages once — every replica keeps its revision;
 * 2. the services a built project reaches at run time (the Nx project graph: the app itself, or every app that
 *    imports the library) are snapshotted into a new revision — unless the shipped files are the same, as after an
 *    edited test;
 * 3. each new revision is rolled out, callees first (leaf, composite, edge), one replica at a time with maxSurge 1
 *    and maxUnavailable 0 (Supervisor.rollOut); a replica that does not become ready stops the rollout there.
 *
 * A saved `.proto` first passes `buf breaking` against proto/breaking-baseline.json (a breaking change is refused
 * before anything rolls), then regenerates the contracts (ts-proto) and their run-time .proto copies, and the
 * compile above carries it to every service that uses them.
 */
export async function prepareChangeLoop(options: ChangeLoopOptions): Promise<{ start(): ChangeLoop }> {
  const { repoRoot, supervisor } = options;
  const workspace = await Workspace.load(repoRoot);
  const store = new RevisionStore(repoRoot, join(options.stateDir, 'revisions'), workspace);
  /** App project name → service, in start order (callees first). */
  const apps = new Map<string, string>();
  for (const template of [...options.templates].sort((a, b) => LAYER_ORDER.indexOf(a.layer) - LAYER_ORDER.indexOf(b.layer))) {
    if (template.kind === 'data') continue;
    const project = workspace.projectOf(`apps/${template.name}`);
    if (!project) throw new Error(`no Nx project at apps/${template.name} for the service ${template.name}`);
    apps.set(project.name, template.name);
    supervisor.setRevision(template.name, store.snapshot(template.name, project.name).revision);
  }
  const projectOfService = new Map([...apps].map(([project, service]) => [service, project]));

  return {
    start(): ChangeLoop {
      const queue: Work[] = [];
      let busy: Promise<void> = Promise.resolve();
      /** Resolves with the compiler's first cycle (every project compiled once). */
      let compilerReady!: () => void;
      const ready = new Promise<void>((resolve) => (compilerReady = resolve));
      let draining = false;
      let stopped = false;
      let cycleWaiter: ((cycle: CompileCycle) => void) | undefined;
      /** The builder has begun a build whose cycle has not arrived yet. */
      let compiling = false;
      let startedWaiter: (() => void) | undefined;
      let lastFailure = '';
      const say = (message: string) => supervisor.record(CHANGE_LOOP, message);

      const worker = new Worker(new URL('./compile-worker.js', import.meta.url), {
        workerData: { repoRoot, configs: [...apps.values()].map((service) => join(repoRoot, 'apps', service, 'tsconfig.json')) },
      });
      worker.unref();
      worker.on('message', (message: CompileCycle | CompileStarted) => {
        if (message.kind === 'started') {
          compiling = true;
          startedWaiter?.();
          return;
        }
        compiling = false;
        if (cycleWaiter) cycleWaiter(message);
        else enqueue(message);
      });
      worker.on('error', (error) => say(`the compiler stopped: ${error.message}; saved code no longer rolls out (restart npm start)`));
      // A compiler that is gone has no first build to wait for.
      worker.on('exit', () => {
        compilerReady();
        // A build it had begun never ends: whoever waits for it gets a failed cycle, so nothing rolls.
        compiling = false;
        cycleWaiter?.({ kind: 'cycle', built: [], errors: ['the compiler stopped before its build ended'], compileMs: 0, initial: false });
      });

      const enqueue = (work: Work) => {
        if (stopped) return;
        queue.push(work);
        if (draining) return;
        draining = true;
        busy = (async () => {
          while (queue.length > 0 && !stopped) {
            const next = queue.shift()!;
            try {
              if (next.kind === 'proto') await contractsChanged();
              else await compiled(next);
            } catch (error) {
              say(`could not roll out: ${(error as Error).message}`);
            }
          }
          draining = false;
        })();
      };

      /**
       * The next compile cycle: one already queued, or the next the worker reports. If no build has begun within
       * `ms` (the regenerated sources were byte-identical, so the builder saw nothing to do): undefined. A build that
       * has begun is waited for to its end, however long it takes on a busy machine — snapshotting a service while
       * the compiler is still writing its dist would roll half-written code, and its cycle would roll it again.
       */
      const nextCycle = async (ms: number): Promise<CompileCycle | undefined> => {
        const queued = queue.findIndex((w) => w.kind === 'cycle');
        if (queued >= 0) return queue.splice(queued, 1)[0] as CompileCycle;
        const cycle = new Promise<CompileCycle>((resolve) => (cycleWaiter = resolve));
        const started = compiling ? Promise.resolve() : new Promise<void>((resolve) => (startedWaiter = resolve));
        try {
          const first = await Promise.race([cycle, started.then(() => 'started' as const), delay(ms).then(() => 'quiet' as const)]);
          if (first === 'quiet') return undefined;
          return first === 'started' ? await cycle : first;
        } finally {
          cycleWaiter = undefined;
          startedWaiter = undefined;
        }
      };

      const compiled = async (cycle: CompileCycle, alsoChanged: readonly string[] = []) => {
        if (cycle.initial) compilerReady();
        if (cycle.initial && cycle.errors.length === 0)
          say(
            `compiler ready: every project compiled once in ${(cycle.compileMs / 1000).toFixed(1)} s; a saved change now compiles incrementally`,
          );
        if (cycle.errors.length > 0) {
          const text = cycle.errors.join('\n');
          say(
            text === lastFailure
              ? `build still fails with the same ${cycle.errors.length} error(s); nothing rolls`
              : `build failed with ${cycle.errors.length} error(s); nothing rolls, every replica keeps its revision:\n${text}`,
          );
          lastFailure = text;
          return;
        }
        lastFailure = '';
        const changed = new Set(alsoChanged);
        for (const folder of cycle.built) {
          const project = workspace.projectOf(folder);
          if (project) changed.add(project.name);
        }
        const services = workspace.affected(changed, apps);
        if (services.length === 0) return;
        say(
          `compiled ${cycle.built.join(', ') || 'nothing new'} in ${(cycle.compileMs / 1000).toFixed(1)} s; reaches ${services.join(', ')}`,
        );
        for (const service of services) {
          if (stopped) return;
          const { revision, fresh } = store.snapshot(service, projectOfService.get(service)!);
          const current = supervisor.services().find((s) => s.service === service)!;
          if (revision.label === current.revision && current.updated === current.current) {
            // The first cycle compiled everything: that the bytes are the same is what it should find.
            if (!cycle.initial)
              say(
                `${service} rebuilt: what it ships is unchanged (${revision.label}${fresh ? '' : ', an earlier build'}), nothing to roll`,
              );
            continue;
          }
          try {
            await supervisor.rollOut(service, revision);
          } catch (error) {
            if (!(error instanceof RolloutFailed)) throw error;
            const rest = services.slice(services.indexOf(service) + 1);
            if (rest.length > 0) say(`not rolled out, as ${service} failed: ${rest.join(', ')}`);
            return;
          }
        }
      };

      const contractsChanged = async () => {
        // Breaking changes first, against the committed baseline, before anything is generated or rolled.
        try {
          await run(join(repoRoot, 'node_modules', '.bin', 'buf'), ['breaking', 'proto', '--against', 'proto/breaking-baseline.json'], {
            cwd: repoRoot,
          });
        } catch (error) {
          const output = `${(error as { stdout?: string }).stdout ?? ''}${(error as { stderr?: string }).stderr ?? ''}`.trim();
          say(`proto change refused by buf breaking; nothing regenerated or rolled:\n${output || (error as Error).message}`);
          return;
        }
        try {
          for (const script of ['generate', 'assets'])
            await run('npm', ['run', '-s', script, '-w', '@strata/contracts'], { cwd: repoRoot });
        } catch (error) {
          const output = `${(error as { stdout?: string }).stdout ?? ''}${(error as { stderr?: string }).stderr ?? ''}`.trim();
          say(`proto change not generated; nothing rolls:\n${output || (error as Error).message}`);
          return;
        }
        say('contracts regenerated from proto/; compiling the services that use them');
        // The compiler sees the regenerated sources; if it has nothing to emit (the TypeScript did not change), the
        // run-time .proto copies still did: the contracts count as changed either way.
        const cycle = (await nextCycle(5_000)) ?? { kind: 'cycle', built: [], errors: [], compileMs: 0, initial: false };
        await compiled(cycle, ['@strata/contracts']);
      };

      let protoTimer: NodeJS.Timeout | undefined;
      let protoWatcher: FSWatcher | undefined;
      try {
        protoWatcher = watch(join(repoRoot, 'proto'), { recursive: true }, (_event, file) => {
          if (!file?.endsWith('.proto')) return;
          clearTimeout(protoTimer);
          protoTimer = setTimeout(() => enqueue({ kind: 'proto' }), 200);
        });
      } catch (error) {
        say(`not watching proto/: ${(error as Error).message}`);
      }
      say(`watching the sources of ${[...apps.values()].join(', ')} and proto/: a saved change rolls out (Ctrl-C stops)`);

      return {
        idle: async () => {
          await ready;
          for (;;) {
            await busy;
            if (!draining && queue.length === 0) return;
            await delay(50);
          }
        },
        stop: async () => {
          stopped = true;
          clearTimeout(protoTimer);
          protoWatcher?.close();
          await worker.terminate();
          await busy.catch(() => undefined);
        },
      };
    },
  };
}
