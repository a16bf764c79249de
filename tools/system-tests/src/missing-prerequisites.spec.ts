import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { REPO_ROOT } from '@strata/local-cluster';
import { freePort, reservePortRegion } from '@strata/dev-kit';

/**
 * Every command, run where what it needs is missing, stops with exit 1 and one line on stderr that names the missing
 * thing and the command that provides it — no stack trace, no run of failures. Each case takes the prerequisite away
 * for real: a port held by another listener, a Docker socket that does not exist, a PATH without kubectl or minikube,
 * a state file of a cluster that runs. A command that did not check would start its work instead: the case then fails
 * on its exit code, its output or its 60 s bound.
 */
const NO_DOCKER = { DOCKER_HOST: 'unix:///nonexistent/docker.sock' };
const dockerGone = (purpose: string) =>
  new RegExp(
    `^error: (no Docker daemon answers at unix:///nonexistent/docker\\.sock: ${escape(purpose)}|${escape(purpose)} \\(no docker command here: .*\\))$`,
  );
const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A folder for PATH holding only Node (and stand-ins written into it): kubectl, minikube and docker are not there. */
function pathWith(stubs: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'strata-path-'));
  symlinkSync(process.execPath, join(dir, 'node'));
  for (const [name, script] of Object.entries(stubs)) writeFileSync(join(dir, name), `#!/bin/sh\n${script}\n`, { mode: 0o755 });
  return dir;
}

const holders: Server[] = [];
async function holdPort(port = 0): Promise<number> {
  const server = createServer((socket) => socket.destroy());
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', () => resolve()));
  holders.push(server);
  return (server.address() as { port: number }).port;
}
/** A port nothing listens on (freePort closes its probe). */
const closedPort = freePort;

interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
}
function run(command: string, args: string[], env: Record<string, string>, timeoutMs = 60_000): Promise<Outcome> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: REPO_ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGTERM'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
const node = (script: string, args: string[], env: Record<string, string> = {}) =>
  run(process.execPath, [join(REPO_ROOT, script), ...args], env);

/** Exit 1, stderr one line matching `line`, and no stack frame anywhere in the output. */
function assertOneLine(outcome: Outcome, line: RegExp): void {
  const where = `stdout:\n${outcome.stdout}\nstderr:\n${outcome.stderr}`;
  assert.equal(outcome.code, 1, `exit code ${outcome.code}, not 1\n${where}`);
  assert.equal(outcome.stderr.trimEnd().split('\n').length, 1, `stderr is not one line\n${where}`);
  assert.match(outcome.stderr.trimEnd(), line, where);
  assert.doesNotMatch(`${outcome.stdout}\n${outcome.stderr}`, /^\s+at .+[:(]/m, `a stack trace was printed\n${where}`);
}

const LOCAL = 'tools/local-cluster/dist/main.js';
const CAPACITY = 'loadtests/dist/capacity-main.js';

after(() => holders.forEach((h) => h.close()));

describe('npm start, where it cannot start', () => {
  const emptyState = () => mkdtempSync(join(tmpdir(), 'strata-state-'));

  it('while a local cluster runs from this checkout: names its pid and start, and the commands to use instead', async () => {
    const stateDir = emptyState();
    // A state file whose pid is alive (this test's own process), as a running `npm start` leaves it.
    writeFileSync(join(stateDir, 'local-cluster.json'), JSON.stringify({ pid: process.pid, startedAt: '2026-12-01T10:00:00.000Z' }));
    assertOneLine(
      await node(LOCAL, ['up'], { STRATA_STATE_DIR: stateDir }),
      new RegExp(
        `^error: a local cluster is already running from this checkout \\(pid ${process.pid}, since 2026-12-01T10:00:00\\.000Z\\): \`npm run status\`, or stop it with Ctrl-C where it runs$`,
      ),
    );
  });

  it("when another program holds the gateway's port: names the port and GATEWAY_PORT", async () => {
    const port = await holdPort();
    assertOneLine(
      await node(LOCAL, ['up'], { STRATA_STATE_DIR: emptyState(), GATEWAY_PORT: String(port) }),
      new RegExp(
        `^error: port ${port} on 127\\.0\\.0\\.1 is in use by another program, and the gateway listens there: set GATEWAY_PORT to another port$`,
      ),
    );
  });

  it("when another program holds the live page's port: names the port and CONSOLE_PORT", async () => {
    const port = await holdPort();
    assertOneLine(
      await node(LOCAL, ['up'], { STRATA_STATE_DIR: emptyState(), GATEWAY_PORT: String(await freePort()), CONSOLE_PORT: String(port) }),
      new RegExp(
        `^error: port ${port} on 127\\.0\\.0\\.1 .*the live page listens there: set CONSOLE_PORT to another port \\(or STRATA_CONSOLE=off\\)$`,
      ),
    );
  });

  it("when another program holds a replica's port: names the replica and LOCAL_BASE_PORT", async () => {
    const region = await reservePortRegion();
    try {
      // catalog-1 listens on base + 1 (catalog is the first service by layer and name).
      await holdPort(region.base + 1);
      assertOneLine(
        await node(LOCAL, ['up'], {
          STRATA_STATE_DIR: emptyState(),
          GATEWAY_PORT: String(await freePort()),
          LOCAL_BASE_PORT: String(region.base),
          STRATA_CONSOLE: 'off',
        }),
        new RegExp(`^error: port ${region.base + 1} .*, and catalog-1 listens there: set LOCAL_BASE_PORT to move every replica's port`),
      );
    } finally {
      region.release();
    }
  });
});

describe('the load commands, with nothing to load', () => {
  it('npm run loadtest: one pre-flight request, then "nothing answers" with the way to start Strata', async () => {
    const port = await closedPort();
    assertOneLine(
      await node('loadtests/dist/loadtest-main.js', ['--scenario', 'browse', '--duration', '30', '--base-url', `http://127.0.0.1:${port}`]),
      new RegExp(
        `^error: nothing answers at http://127\\.0\\.0\\.1:${port} \\(ECONNREFUSED\\): start Strata with \`npm start\`, or pass --base-url$`,
      ),
    );
  });

  it('npm run loadtest over gRPC: the same, for a replica address', async () => {
    const port = await closedPort();
    assertOneLine(
      await node('loadtests/dist/loadtest-main.js', ['--scenario', 'grpcQuote', '--duration', '30', '--target', `127.0.0.1:${port}`]),
      new RegExp(`^error: nothing answers gRPC at ipv4:127\\.0\\.0\\.1:${port} within 3 s: start Strata with \`npm start\``),
    );
  });

  it('npm run capacity (containers) without a Docker daemon: says to start Docker or use --target local', async () => {
    assertOneLine(
      await node(CAPACITY, ['--smoke'], NO_DOCKER),
      dockerGone('the capacity experiment runs in containers: start Docker (or use --target local, which needs none)'),
    );
  });

  it("npm run capacity -- --target local, when another program holds the live page's port", async () => {
    const port = await holdPort();
    assertOneLine(
      await node(CAPACITY, ['--target', 'local', '--console-port', String(port)], { STRATA_STATE_DIR: mkdtempSync(join(tmpdir(), 's-')) }),
      new RegExp(`^error: port ${port} .*the live page listens there: pass --console-port \\(or set CONSOLE_PORT\\)$`),
    );
  });

  it('npm run capacity -- --target k8s: without a base URL, without kubectl, and with a gateway that does not answer', async () => {
    assertOneLine(await node(CAPACITY, ['--target', 'k8s']), /^error: --target k8s needs --base-url, the gateway of the cluster/);
    const port = await closedPort();
    const url = `http://127.0.0.1:${port}`;
    assertOneLine(
      await node(CAPACITY, ['--target', 'k8s', '--base-url', url], { PATH: pathWith() }),
      /^error: kubectl is not installed: the k8s target scales the Deployments with kubectl: install it/,
    );
    assertOneLine(
      await node(CAPACITY, ['--target', 'k8s', '--base-url', url], { PATH: pathWith({ kubectl: 'exit 0' }) }),
      new RegExp(
        `^error: nothing answers at ${escape(url)} \\(ECONNREFUSED\\): deploy Strata with \`npm run k8s:deploy\`, or pass the gateway`,
      ),
    );
  });
});

describe('the commands that need Docker, kubectl or minikube, without them', () => {
  it('npm run images without a Docker daemon', async () => {
    assertOneLine(
      await node('tools/release/dist/images-main.js', ['--services', 'catalog'], NO_DOCKER),
      dockerGone('the images are built with Docker: start it (`dockerd`, or Docker Desktop), then run this again'),
    );
  });

  it('npm run report:memory without a Docker daemon', async () => {
    assertOneLine(
      await node('loadtests/dist/memory-main.js', [], NO_DOCKER),
      dockerGone('report:memory measures each pod in containers: start Docker (or use --target local, which needs none)'),
    );
  });

  it('npm run images:ci-base, images:smoke and images:postgres without a Docker daemon', async () => {
    for (const [script, env] of [
      ['tools/release/scripts/build-ci-base.sh', {}],
      ['tools/release/scripts/smoke-test.sh', { DATABASE_URL: 'postgres://unused' }],
      ['tools/k8s-docker/images/postgres/build.sh', {}],
    ] as const) {
      const outcome = await run('bash', [join(REPO_ROOT, script)], { ...NO_DOCKER, DOCKER: '/usr/bin/docker', ...env });
      assertOneLine(outcome, /^error: no Docker daemon answers \(\/usr\/bin\/docker info failed\): .*start it.*npm run images:/);
    }
  });

  it('npm run test:containers without a Docker daemon (its pre-flight, strata-preflight docker)', async () => {
    assertOneLine(
      await node('libs/preflight/dist/cli.js', ['docker', 'the container tests run the manifests in Docker: start it'], NO_DOCKER),
      dockerGone('the container tests run the manifests in Docker: start it'),
    );
  });

  it('npm run k8s:validate and k8s:docker without kubectl', async () => {
    const PATH = pathWith();
    assertOneLine(
      await node('tools/k8s-check/dist/main.js', [], { PATH }),
      /^error: kubectl is not installed, and it renders the overlays \(kubectl kustomize\): install a current kubectl/,
    );
    assertOneLine(
      await node('tools/k8s-docker/dist/main.js', ['up', '--name', `preflight-${process.pid}`], { PATH }),
      /^(error: )?kubectl is not installed, and it renders the overlays \(kubectl kustomize\): install a current kubectl/,
    );
  });

  it('npm run k8s:docker without a Docker daemon', async () => {
    assertOneLine(
      await node('tools/k8s-docker/dist/main.js', ['down', '--name', `preflight-${process.pid}`], NO_DOCKER),
      /^(error: )?no Docker engine answers \(.*\): start Docker, then run this again$/,
    );
  });

  it('npm run release -- --minikube and images -- --minikube without minikube', async () => {
    for (const script of ['tools/release/dist/release-main.js', 'tools/release/dist/images-main.js'])
      assertOneLine(
        await node(script, ['--minikube'], { PATH: pathWith() }),
        /^error: minikube is not installed: install minikube \(https:\/\/minikube\.sigs\.k8s\.io\) and run `minikube start`, or build without --minikube$/,
      );
  });
});
