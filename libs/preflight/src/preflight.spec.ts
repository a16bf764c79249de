import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type Server as NetServer } from 'node:net';
import { createServer as createHttpServer } from 'node:http';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import {
  commandExists,
  kustomizeMissing,
  KUBECTL_HOW,
  MissingPrerequisite,
  requireAnswer,
  requireCommand,
  requireDocker,
  requireFreePort,
  requireGrpcAnswer,
} from './preflight.js';

const listening = async (server: NetServer | ReturnType<typeof createHttpServer>) => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return (server.address() as { port: number }).port;
};
/** A port nothing listens on: one the kernel just gave out and that was closed again. */
const closedPort = async () => {
  const server = createServer();
  const port = await listening(server);
  await new Promise((resolve) => server.close(resolve));
  return port;
};

/** A PATH holding only a stand-in `kubectl` with this shell body (and sh's own tools). */
const pathWithKubectl = (body: string) => {
  const dir = mkdtempSync(join(tmpdir(), 'strata-fake-kubectl-'));
  writeFileSync(join(dir, 'kubectl'), `#!/bin/sh\n${body}\n`);
  chmodSync(join(dir, 'kubectl'), 0o755);
  return { ...process.env, PATH: `${dir}:/usr/bin:/bin` };
};

describe('preflight', () => {
  it('tells a kubectl whose kustomize has no components (Debian 1.20) from a missing one and from a usable one', () => {
    const old = pathWithKubectl(
      'if [ "$1" = version ]; then echo \'Client Version: version.Info{Major:"1", Minor:"20"}\'; exit 0; fi\necho "Error: json: unknown field \\"components\\"" >&2; exit 1',
    );
    assert.equal(
      kustomizeMissing(old),
      `this kubectl (Client Version: version.Info{Major:"1", Minor:"20"}) bundles a kustomize without components: ${KUBECTL_HOW}`,
    );
    assert.match(
      kustomizeMissing({ ...process.env, PATH: mkdtempSync(join(tmpdir(), 'strata-empty-')) }) as string,
      /^kubectl is not installed/,
    );
  });

  const realKubectl = spawnSync('kubectl', ['version', '--client'], { stdio: 'ignore' }).status === 0;
  it('finds a current kubectl usable', { skip: realKubectl ? false : 'no kubectl on this machine' }, () => {
    assert.equal(kustomizeMissing(), false, "this machine's kubectl renders components");
  });

  it('names a port that another program holds, and how to move it; a free one passes', async () => {
    const holder = createServer();
    const port = await listening(holder);
    await assert.rejects(
      requireFreePort(port, 'the gateway listens there: set GATEWAY_PORT to move it'),
      (error: Error) =>
        error instanceof MissingPrerequisite &&
        error.message ===
          `port ${port} on 127.0.0.1 is in use by another program, and the gateway listens there: set GATEWAY_PORT to move it`,
    );
    await new Promise((resolve) => holder.close(resolve));
    await requireFreePort(port, 'the gateway');
  });

  it('says that nothing answers at a URL, with the hint; any HTTP status is an answer', async () => {
    const port = await closedPort();
    await assert.rejects(
      requireAnswer(`http://127.0.0.1:${port}/healthz`, 'start Strata with `npm start`, or pass --base-url'),
      (error: Error) =>
        error instanceof MissingPrerequisite &&
        error.message === `nothing answers at http://127.0.0.1:${port} (ECONNREFUSED): start Strata with \`npm start\`, or pass --base-url`,
    );
    const starting = createHttpServer((_, response) => response.writeHead(503).end());
    const up = await listening(starting);
    try {
      await requireAnswer(`http://127.0.0.1:${up}/healthz`, 'unused');
    } finally {
      starting.close();
    }
  });

  it('says that nothing answers gRPC at a target; a gRPC server is an answer', async () => {
    const port = await closedPort();
    await assert.rejects(
      requireGrpcAnswer(`127.0.0.1:${port}`, 'start Strata with `npm start`, or pass --target', 500),
      (error: Error) =>
        error instanceof MissingPrerequisite &&
        error.message === `nothing answers gRPC at 127.0.0.1:${port} within 0.5 s: start Strata with \`npm start\`, or pass --target`,
    );
    const server = new Server();
    const bound = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, p) => (error ? reject(error) : resolve(p))),
    );
    try {
      await requireGrpcAnswer(`127.0.0.1:${bound}`, 'unused');
    } finally {
      server.forceShutdown();
    }
  });

  it('says which command is not installed and how to get it', () => {
    assert.equal(commandExists(process.execPath), true);
    assert.throws(
      () => requireCommand('strata-no-such-command', 'install it from nowhere'),
      (error: Error) =>
        error instanceof MissingPrerequisite && error.message === 'strata-no-such-command is not installed: install it from nowhere',
    );
  });

  it('tells a missing docker command from a daemon that does not answer', (t) => {
    assert.throws(
      () => requireDocker('images are built with Docker', { ...process.env, DOCKER: '/nonexistent/docker' }),
      /^MissingPrerequisite: images are built with Docker \(no docker command here: install Docker/,
    );
    const docker = spawnSync('/usr/bin/docker', ['--version']).status === 0 ? '/usr/bin/docker' : undefined;
    if (!docker) return t.skip('no docker client at /usr/bin/docker: the daemon case needs one');
    assert.throws(
      () =>
        requireDocker('images are built with Docker: start it', {
          ...process.env,
          DOCKER: docker,
          DOCKER_HOST: 'unix:///nonexistent/docker.sock',
        }),
      (error: Error) =>
        error instanceof MissingPrerequisite &&
        error.message === 'no Docker daemon answers at unix:///nonexistent/docker.sock: images are built with Docker: start it',
    );
  });

  it('ends a command with the one line and exit 1, without a stack trace; other errors keep theirs', () => {
    const index = fileURLToPath(new URL('./index.js', import.meta.url));
    const run = (body: string) =>
      spawnSync(
        process.execPath,
        ['--input-type=module', '-e', `import * as p from ${JSON.stringify(index)};\np.exitOnMissingPrerequisite();\n${body}`],
        {
          encoding: 'utf8',
        },
      );
    const missing = run(
      `await new Promise((r) => setTimeout(r, 5));\nthrow new p.MissingPrerequisite('nothing answers at http://127.0.0.1:1: start it');`,
    );
    assert.equal(missing.status, 1);
    assert.equal(missing.stderr, 'error: nothing answers at http://127.0.0.1:1: start it\n');
    const bug = run(`throw new TypeError('a bug');`);
    assert.equal(bug.status, 1);
    assert.match(bug.stderr, /TypeError: a bug\n\s+at /);
  });
});
