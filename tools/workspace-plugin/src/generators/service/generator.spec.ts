import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { freePort, reservePortRegion } from '@strata/dev-kit';
import { REPO_ROOT } from '../../workspace.js';

/**
 * The promise of `npm run new-service`: right after it, the tests and k8s:validate pass and the local cluster runs the
 * new service with its replicas. Checked in a temporary copy of the repository (its node_modules hard-linked), with
 * a leaf and a composite that calls it and catalog.
 */
describe('npm run new-service, in a temporary copy of the repository', { timeout: 600_000 }, () => {
  let copy: string;
  // NODE_TEST_CONTEXT would make the copy's `node --test` runs skip their files as nested runs of this one.
  const { NODE_TEST_CONTEXT: _nested, ...parentEnv } = process.env;
  const env = { ...parentEnv, NX_DAEMON: 'false', NX_SKIP_NX_CACHE: 'true', NX_NO_CLOUD: 'true' };
  const run = (command: string, args: string[], timeout = 300_000) =>
    spawnSync(command, args, {
      cwd: copy,
      env: { ...env, PATH: `${join(copy, 'node_modules', '.bin')}:${process.env.PATH}` },
      encoding: 'utf8',
      timeout,
    });
  const nx = (...args: string[]) => run(join(copy, 'node_modules', '.bin', 'nx'), args);
  const generate = (...args: string[]) => nx('g', '@strata/workspace-plugin:service', ...args, '--skipInstall', '--no-interactive');
  const started = performance.now();

  before(() => {
    copy = mkdtempSync(join(tmpdir(), 'strata-new-service-'));
    // The files git would commit (tracked and untracked, not ignored), then node_modules as hard links.
    execFileSync(
      'sh',
      ['-c', `git ls-files -co --exclude-standard -z | grep -zv '^node_modules/' | tar --null -cf - -T - | tar -xf - -C '${copy}'`],
      { cwd: REPO_ROOT },
    );
    execFileSync('cp', ['-al', join(REPO_ROOT, 'node_modules'), join(copy, 'node_modules')]);
    // npm rewrites its hidden lockfile in place, which would write through the hard link into this checkout.
    rmSync(join(copy, 'node_modules', '.package-lock.json'), { force: true });
    const built = nx('run-many', '-t', 'build', '-p', '@strata/workspace-plugin', '@strata/service-registry', '--output-style=static');
    assert.equal(built.status, 0, built.stdout + built.stderr);
  });
  after(() => {
    if (copy) rmSync(copy, { recursive: true, force: true });
  });

  it('refuses a name that exists, a name that is not a service name, and calls against the layering', () => {
    const cases: [string[], RegExp][] = [
      [['--name', 'catalog', '--layer', 'leaf'], /a service named 'catalog' exists already \(apps\/catalog\)/],
      [
        ['--name', 'Order_History', '--layer', 'leaf'],
        /'Order_History' is not a valid service name: use lower-case letters and digits, words joined by '-'/,
      ],
      [['--name', 'postgres', '--layer', 'leaf'], /'postgres' is reserved/],
      [['--name', 'lonely', '--layer', 'leaf', '--calls', 'catalog'], /a leaf calls nothing: drop --calls/],
      [['--name', 'layered', '--layer', 'composite', '--calls', 'orders'], /a composite calls only leaf services; orders is a composite/],
      [['--name', 'ghostly', '--layer', 'composite', '--calls', 'ghost'], /no service named 'ghost' is declared/],
    ];
    for (const [args, message] of cases) {
      const result = generate(...args);
      assert.notEqual(result.status, 0, `${args.join(' ')} was accepted`);
      assert.match(result.stdout + result.stderr, message);
    }
    assert.equal(existsSync(join(copy, 'apps', 'lonely')), false, 'a refused generation writes nothing');
  });

  it('generates a leaf, and a composite that calls it and catalog, wired into every declaration', () => {
    for (const args of [
      ['--name', 'inventory', '--layer', 'leaf'],
      ['--name', 'stock-report', '--layer', 'composite', '--calls', 'inventory,catalog'],
    ]) {
      const result = generate(...args);
      assert.equal(result.status, 0, result.stdout + result.stderr);
    }
    // What npm install does for users: the lockfile lists the new workspaces (so `npm ci` accepts them), and they are linked.
    const lock = run('npm', ['install', '--package-lock-only', '--no-audit', '--no-fund', '--offline']);
    assert.equal(lock.status, 0, lock.stderr);
    const lockfile = JSON.parse(readFileSync(join(copy, 'package-lock.json'), 'utf8')) as { packages: Record<string, unknown> };
    assert.ok(lockfile.packages['apps/inventory'] && lockfile.packages['apps/stock-report']);
    for (const app of ['inventory', 'stock-report']) symlinkSync(`../../apps/${app}`, join(copy, 'node_modules', '@strata', app));
    // What the generator does after npm install: declare the new images' content tags in the released overlays.
    const released = run('npm', ['run', '-s', 'release', '--', '--no-build', '--services', 'inventory,stock-report']);
    assert.equal(released.status, 0, released.stdout + released.stderr);
    assert.match(
      readFileSync(join(copy, 'k8s', 'overlays', 'minikube', 'kustomization.yaml'), 'utf8'),
      /- name: strata\/inventory\n {4}newTag: [0-9a-f]{12}/,
    );

    const declaration = JSON.parse(readFileSync(join(copy, 'apps', 'stock-report', 'service.json'), 'utf8'));
    assert.deepEqual(declaration.calls, ['inventory', 'catalog']);
    assert.match(
      readFileSync(join(copy, 'k8s', 'components', 'network-policies', 'inventory.yaml'), 'utf8'),
      /app\.kubernetes\.io\/name: stock-report/,
    );
    assert.match(readFileSync(join(copy, 'k8s', 'overlays', 'local', 'kustomization.yaml'), 'utf8'), /- name: inventory\n {4}count: 2/);
    assert.match(readFileSync(join(copy, 'CODEOWNERS'), 'utf8'), /^\/proto\/strata\/stock_report\/ @strata\/stock-report-team$/m);
  });

  it('passes lint and build of every project, the tests of the new services and of every project that reads the declarations, and k8s:validate', () => {
    // Every project compiles and lints with the new services (the kit's generated standalone ports among them). Tests:
    // the new services' own, and those of every project whose behaviour follows the set of declared services — the
    // service registry and what depends on it (Nx's graph: the local cluster, k8s-check, release, loadtests, …); the
    // contracts, generated from the new .proto files, are checked by their build. The other apps' tests do not read the declarations: they ran
    // in this checkout's own `npm test`, and running them again here doubled the generator's share of CI.
    const readers = nx('show', 'projects', '--affected', '--files=libs/service-registry/package.json');
    assert.equal(readers.status, 0, readers.stderr);
    const tested = [
      '@strata/inventory',
      '@strata/stock-report',
      ...readers.stdout.split('\n').filter((p) => p && p !== '@strata/system-tests' && p !== '@strata/workspace-plugin'),
    ];
    assert.ok(tested.includes('@strata/local-cluster') && tested.includes('@strata/k8s-check'), tested.join(' '));
    const built = nx(
      'run-many',
      '-t',
      'lint',
      'build',
      '--exclude',
      '@strata/system-tests,@strata/workspace-plugin',
      '--output-style=static',
    );
    assert.equal(built.status, 0, [built.stdout.slice(-3000), built.stderr.slice(-2000)].join('\n'));
    const tests = nx('run-many', '-t', 'test', '-p', tested.join(','), '--output-style=static');
    // On failure: every failing test's own report (the tail of the output alone hides which project failed), then the tail.
    const failing = tests.stdout.match(/✖ failing tests:[\s\S]{0,3000}/g) ?? [];
    assert.equal(tests.status, 0, [...failing, tests.stdout.slice(-2000), tests.stderr.slice(-2000)].join('\n'));
    // The new services' own tests ran (and were not skipped as nested test runs).
    assert.match(tests.stdout, /✔ stock-report over real gRPC on loopback/);
    assert.match(tests.stdout, /✔ summarizeText/);
    const validate = run(process.execPath, ['tools/k8s-check/dist/main.js']);
    assert.equal(validate.status, 0, validate.stdout + validate.stderr);
    assert.match(validate.stdout, /REPLICAS \(catalog inventory pricing orders recommendations stock-report gateway\)/);
  });

  it("starts the new services with the local overlay's replicas, as npm start does, and they answer", async () => {
    // Replica ports below the ephemeral range, in a region claimed as the system tests claim theirs (they may be
    // booting clusters at the same time).
    const region = await reservePortRegion();
    const basePort = region.base;
    const cluster = spawn(process.execPath, ['tools/local-cluster/dist/main.js', 'up'], {
      cwd: copy,
      env: { ...env, GATEWAY_PORT: String(await freePort()), LOCAL_BASE_PORT: String(basePort) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    cluster.stdout.on('data', (d: Buffer) => (output += d));
    cluster.stderr.on('data', (d: Buffer) => (output += d));
    try {
      for (let i = 0; i < 600 && !/Strata is up/.test(output) && cluster.exitCode === null; i++) await delay(100);
      assert.match(output, /Strata is up/, output.slice(-3000));
      for (const replica of ['inventory-1', 'inventory-2', 'stock-report-1', 'stock-report-2'])
        assert.match(output, new RegExp(`${replica}\\s+127\\.0\\.0\\.1:\\d+\\s+ready`));
      const address = new RegExp('stock-report-1\\s+(127\\.0\\.0\\.1:\\d+)').exec(output)![1]!;
      const answer = run('node', [
        '--input-type=module',
        '-e',
        `
        const grpc = await import('@grpc/grpc-js');
        const { serviceDefinition } = await import('@strata/service-kit');
        const m = serviceDefinition('strata.stock_report.v1.StockReportService').Describe;
        const c = new grpc.Client('${address}', grpc.credentials.createInsecure());
        c.makeUnaryRequest(m.path, m.requestSerialize, m.responseDeserialize, { text: 'one layer at a time' }, new grpc.Metadata(), { deadline: Date.now() + 3000 }, (e, r) => { console.log(JSON.stringify(e ? { error: e.details } : r)); c.close(); });
      `,
      ]);
      assert.deepEqual(JSON.parse(answer.stdout.trim()), {
        words: 5,
        characters: 19,
        mostFrequentWord: 'a',
        normalized: 'one layer at a time',
      });
    } finally {
      cluster.kill('SIGTERM');
      await new Promise((resolve) => (cluster.exitCode !== null ? resolve(undefined) : cluster.once('exit', resolve)));
      region.release();
      console.log(
        `new-service + lint, build, tests, k8s:validate and start in the copy: ${((performance.now() - started) / 1000).toFixed(0)} s`,
      );
    }
  });
});
