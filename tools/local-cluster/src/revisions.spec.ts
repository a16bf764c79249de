import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { REPO_ROOT } from './local-cluster.js';
import { RevisionStore, Workspace } from './revisions.js';

/** A two-project workspace on disk: app `@t/app` importing lib `@t/lib` at run time (and a test-only `@t/testing`). */
function tinyWorkspace() {
  const root = mkdtempSync(join(tmpdir(), 'strata-revisions-'));
  const write = (file: string, text: string) => {
    mkdirSync(join(root, file, '..'), { recursive: true });
    writeFileSync(join(root, file), text);
  };
  write('libs/lib/package.json', JSON.stringify({ name: '@t/lib', type: 'module', exports: './dist/index.js' }));
  write('libs/lib/dist/index.js', "export const greeting = 'one';\n");
  write('libs/testing/package.json', JSON.stringify({ name: '@t/testing', type: 'module' }));
  write('apps/app/package.json', JSON.stringify({ name: '@t/app', type: 'module', dependencies: { '@t/lib': '*' } }));
  write('apps/app/dist/main.js', "import { greeting } from '@t/lib';\nconsole.log(greeting);\n");
  write('apps/app/dist/main.spec.js', 'a test\n');
  write('apps/app/dist/main.d.ts', 'export {};\n');
  // Third-party packages resolve from the repository's node_modules (here: empty, but it must exist).
  mkdirSync(join(root, 'node_modules'));
  const workspace = new Workspace([
    { name: '@t/app', root: 'apps/app', runtimeDependencies: ['@t/lib'] },
    { name: '@t/lib', root: 'libs/lib', runtimeDependencies: [] },
    { name: '@t/testing', root: 'libs/testing', runtimeDependencies: [] },
  ]);
  return { root, write, workspace };
}

describe('revisions: immutable builds of a service', () => {
  it('runs from its own copy: a later build of the app or its library does not change what a revision runs', () => {
    const { root, write, workspace } = tinyWorkspace();
    const store = new RevisionStore(root, join(root, '.state', 'revisions'), workspace);
    const first = store.snapshot('app', '@t/app');
    assert.equal(first.fresh, true);
    assert.match(first.revision.label, /^r1-[0-9a-f]{7}$/);
    write('libs/lib/dist/index.js', "export const greeting = 'two';\n");
    const run = (r: { root: string }) => execFileSync(process.execPath, [join(r.root, 'apps/app/dist/main.js')], { encoding: 'utf8' });
    assert.equal(run(first.revision), 'one\n', 'the first revision still runs the library as it was');
    const second = store.snapshot('app', '@t/app');
    assert.equal(second.fresh, true);
    assert.match(second.revision.label, /^r2-/);
    assert.equal(run(second.revision), 'two\n');
  });

  it('same shipped bytes, same revision: tests, type declarations and source maps do not make one; undoing a change finds the old one', () => {
    const { root, write, workspace } = tinyWorkspace();
    const store = new RevisionStore(root, join(root, '.state', 'revisions'), workspace);
    const first = store.snapshot('app', '@t/app').revision;
    write('apps/app/dist/main.spec.js', 'another test\n');
    write('apps/app/dist/main.d.ts', 'export declare const x: number;\n');
    write('apps/app/dist/main.js.map', '{"version":3}\n');
    assert.deepEqual(store.snapshot('app', '@t/app'), { revision: first, fresh: false });
    const original = readFileSync(join(root, 'apps/app/dist/main.js'), 'utf8');
    write('apps/app/dist/main.js', `${original}console.log('changed');\n`);
    const changed = store.snapshot('app', '@t/app').revision;
    assert.notEqual(changed.label, first.label);
    write('apps/app/dist/main.js', original);
    assert.deepEqual(store.snapshot('app', '@t/app'), { revision: first, fresh: false });
    assert.deepEqual(
      store.history('app').map((r) => r.label),
      [first.label, changed.label],
    );
  });

  it('a library change reaches the apps that import it at run time, not those that use it in tests', () => {
    const { workspace } = tinyWorkspace();
    const apps = new Map([['@t/app', 'app']]);
    assert.deepEqual(workspace.affected(new Set(['@t/lib']), apps), ['app']);
    assert.deepEqual(workspace.affected(new Set(['@t/testing']), apps), []);
    assert.equal(workspace.projectOf('libs/lib/src/index.ts')?.name, '@t/lib');
    assert.equal(workspace.projectOf('libs/library/src/index.ts'), undefined);
  });

  it("reads this repository's Nx project graph: pricing ships its contracts, their rules, errors and kit, not its dev kit", async () => {
    const workspace = await Workspace.load(REPO_ROOT);
    const closure = workspace
      .runtimeClosure('@strata/pricing')
      .map((p) => p.name)
      .sort();
    assert.deepEqual(closure, [
      '@strata/contract-rules',
      '@strata/contracts',
      '@strata/domain-errors',
      '@strata/pricing',
      '@strata/service-kit',
    ]);
    const apps = new Map(['catalog', 'gateway', 'orders', 'pricing', 'recommendations'].map((s) => [`@strata/${s}`, s]));
    assert.deepEqual(workspace.affected(new Set(['@strata/contracts']), apps).sort(), [...apps.values()].sort());
    assert.deepEqual(workspace.affected(new Set(['@strata/pricing']), apps), ['pricing']);
    assert.deepEqual(workspace.affected(new Set(['@strata/dev-kit']), apps), []);
  });
});
