import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { kustomizeMissing } from '@strata/preflight';
import { REPO_ROOT } from '@strata/service-registry';
import { contentTag, CONTENT_TAG, imageInputs } from './content-tag.js';
import { stageImageContext } from './image-context.js';
import { readImageTags, writeImageTags } from './overlay-images.js';
import { previousRelease, rollBackDeclaration } from './rollback.js';

describe('content tags', () => {
  it("hash exactly an image's inputs: the app, the libraries it uses, their contracts, the lockfile", async () => {
    const inputs = await imageInputs('pricing', REPO_ROOT);
    for (const file of [
      'apps/pricing/src/main.ts',
      'tools/release/image/Dockerfile',
      'libs/service-kit/src/grpc-server.ts',
      'libs/domain-errors/src/index.ts',
      'proto/strata/pricing/v1/pricing.proto',
      'package-lock.json',
      'patches/@grpc+grpc-js+1.14.7.patch',
    ])
      assert.ok(inputs.includes(file), `${file} is an input of pricing's image`);
    assert.ok(!inputs.some((f) => f.startsWith('apps/catalog/')), "another app's files are not");
    assert.ok(
      !inputs.some((f) => (f.startsWith('tools/') && f !== 'tools/release/image/Dockerfile') || f.startsWith('libs/dev-kit/')),
      'neither are tools (but the one Dockerfile) nor the dev kit',
    );
    assert.ok(!inputs.some((f) => f.endsWith('.spec.ts') || f.includes('/dist/')), 'nor tests, nor build output');
    assert.ok(!inputs.some((f) => f.startsWith('libs/contracts/src/')), 'nor generated code (its .proto files are the input)');
  });

  it('give the same tag for the same inputs, and a new one when an input or the base changes', async () => {
    const tag = await contentTag('pricing', REPO_ROOT);
    assert.match(tag, CONTENT_TAG);
    assert.equal(await contentTag('pricing', REPO_ROOT), tag, 'same inputs, same tag');
    assert.notEqual(await contentTag('catalog', REPO_ROOT), tag, 'another service, another tag');
    assert.notEqual(await contentTag('pricing', REPO_ROOT, 'node:24.21.0-bookworm-slim'), tag, 'another base, another tag');
    // A change to one input, in a copy of the repository: only the services that use it get a new tag.
    const copy = mkdtempSync(join(tmpdir(), 'strata-tag-'));
    for (const f of new Set([...(await imageInputs('pricing', REPO_ROOT)), ...(await imageInputs('catalog', REPO_ROOT)), '.gitignore']))
      cpSync(join(REPO_ROOT, f), join(copy, f));
    const before = { pricing: await contentTag('pricing', copy), catalog: await contentTag('catalog', copy) };
    writeFileSync(join(copy, 'apps/pricing/src/main.ts'), `${readFileSync(join(copy, 'apps/pricing/src/main.ts'), 'utf8')}\n// a change\n`);
    assert.notEqual(await contentTag('pricing', copy), before.pricing, 'pricing changed: new tag');
    assert.equal(await contentTag('catalog', copy), before.catalog, 'catalog did not: same tag, so a release does not roll it');
  });
});

describe('the build context of an image', () => {
  it("holds the app's and its production libraries' manifests and compiled code, and nothing else", async () => {
    const copy = mkdtempSync(join(tmpdir(), 'strata-context-'));
    for (const f of ['package.json', 'package-lock.json']) cpSync(join(REPO_ROOT, f), join(copy, f));
    mkdirSync(join(copy, 'patches'));
    writeFileSync(join(copy, 'patches', 'fix.patch'), 'a patch');
    const roots = [
      'apps/pricing',
      'libs/contract-rules',
      'libs/contracts',
      'libs/domain-errors',
      'libs/service-kit',
      'libs/dev-kit',
      'apps/catalog',
    ];
    for (const root of roots) {
      cpSync(join(REPO_ROOT, root, 'package.json'), join(copy, root, 'package.json'));
      mkdirSync(join(copy, root, 'dist'), { recursive: true });
      for (const file of ['index.js', 'index.d.ts', 'index.js.map', 'index.spec.js', 'tsconfig.tsbuildinfo'])
        writeFileSync(join(copy, root, 'dist', file), root);
    }
    const context = await stageImageContext('pricing', copy);
    const files = (dir: string) => (readdirSync(join(context, dir), { recursive: true }) as string[]).filter((f) => f.includes('.')).sort();
    const shipped = ['apps/pricing', 'libs/contract-rules', 'libs/contracts', 'libs/domain-errors', 'libs/service-kit'];
    assert.deepEqual(files('manifests'), ['package-lock.json', 'package.json', ...shipped.map((r) => `${r}/package.json`)].sort());
    // Only what runs: no tests, type declarations, source maps or build info (shipsAtRunTime, as the local revisions).
    assert.deepEqual(files('built'), shipped.map((r) => `${r}/dist/index.js`).sort());
    // The installed packages' patches, which the deps stage applies after its npm ci (the copy has one).
    assert.deepEqual(files('patches'), ['fix.patch']);
    rmSync(context, { recursive: true });
    rmSync(join(copy, 'libs/service-kit/dist'), { recursive: true });
    await assert.rejects(stageImageContext('pricing', copy), /libs\/service-kit\/dist does not exist: build @strata\/service-kit first/);
  });
});

/** A throwaway git repository holding a copy of k8s/, for release and rollback to write to. */
function overlayRepo(): string {
  const dir = mkdtempSync(join(tmpdir(), 'strata-release-'));
  cpSync(join(REPO_ROOT, 'k8s'), join(dir, 'k8s'), { recursive: true });
  const git = (...args: string[]) => execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], { cwd: dir });
  git('init', '-q');
  git('add', '.');
  git('commit', '-qm', 'release 1');
  return dir;
}

describe('releases are declarations', () => {
  it("writes the tags into the overlay's images:, keeping its comments, and reports only what changed", () => {
    const repo = overlayRepo();
    const before = readImageTags(repo, 'minikube');
    const changes = writeImageTags(repo, 'minikube', { ...before, catalog: 'aaaaaaaaaaaa' });
    assert.deepEqual(changes, [{ service: 'catalog', from: before.catalog, to: 'aaaaaaaaaaaa' }]);
    assert.equal(readImageTags(repo, 'minikube').catalog, 'aaaaaaaaaaaa');
    assert.match(readFileSync(join(repo, 'k8s/overlays/minikube/kustomization.yaml'), 'utf8'), /# What runs: the content tag/);
    assert.deepEqual(writeImageTags(repo, 'minikube', readImageTags(repo, 'minikube')), [], 'no change: nothing rolls');
  });

  const noKustomize = kustomizeMissing();
  const noKubectl = noKustomize && `${noKustomize}: the rendered rollback was NOT checked`;
  if (noKubectl) console.log(`SKIPPED: ${noKubectl}`);
  it('rolls back by restoring the previous release from git history, not by an imperative set image', { skip: noKubectl }, () => {
    const repo = overlayRepo();
    const first = readImageTags(repo, 'minikube');
    writeImageTags(repo, 'minikube', { ...first, pricing: 'bbbbbbbbbbbb', orders: 'cccccccccccc' });
    execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', 'commit', '-qam', 'release 2'], { cwd: repo });
    const previous = previousRelease(repo, 'minikube');
    assert.equal(previous?.subject, 'release 1');
    const { changes } = rollBackDeclaration(repo, 'minikube');
    assert.deepEqual(
      changes.map((c) => [c.service, c.from, c.to]),
      [
        ['pricing', 'bbbbbbbbbbbb', first.pricing],
        ['orders', 'cccccccccccc', first.orders],
      ],
    );
    assert.deepEqual(readImageTags(repo, 'minikube'), first, 'the overlay declares release 1 again');
    const rendered = execFileSync('kubectl', ['kustomize', join(repo, 'k8s/overlays/minikube')], { encoding: 'utf8' });
    assert.ok(rendered.includes(`image: strata/pricing:${first.pricing}`), 'and renders it');
  });

  it('refuses a rollback when history holds no earlier release', () => {
    assert.throws(() => rollBackDeclaration(overlayRepo(), 'minikube'), /no earlier release/);
  });
});
