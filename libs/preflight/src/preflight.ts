import { spawnSync } from 'node:child_process';
import { Client, credentials } from '@grpc/grpc-js';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A prerequisite of a command that is not there (no Docker daemon, no kubectl, a port taken, nothing answering). Its
 * message is the one line the user reads: what is missing and the command that provides it. A command that calls
 * {@link exitOnMissingPrerequisite} prints that line alone (no stack trace) and exits 1.
 */
export class MissingPrerequisite extends Error {
  override name = 'MissingPrerequisite';
}

/**
 * Makes a missing prerequisite end the command with its one line and exit code 1, wherever it is thrown (top-level
 * await included). Every other error keeps Node's own report: a stack trace there is a bug to read.
 */
export function exitOnMissingPrerequisite(): void {
  process.on('uncaughtException', (error) => {
    if (error instanceof MissingPrerequisite) console.error(`error: ${error.message}`);
    else console.error(error);
    process.exit(1);
  });
}

/** Debian's docker.io client where there is one: the first docker on PATH may be a client without buildx or engine. */
export function dockerBinary(env: NodeJS.ProcessEnv = process.env): string {
  if (env.DOCKER) return env.DOCKER;
  return existsSync('/usr/bin/docker') ? '/usr/bin/docker' : 'docker';
}

/**
 * Checks that a Docker daemon answers (`docker info`) and returns the docker binary. `purpose` says why the command
 * needs one and what to do instead, e.g. "the capacity experiment runs in containers: start Docker (or use --target
 * local, which needs none)".
 */
export function requireDocker(purpose: string, env: NodeJS.ProcessEnv = process.env): string {
  const docker = dockerBinary(env);
  const info = spawnSync(docker, ['info', '--format', '{{.ServerVersion}}'], { encoding: 'utf8', env, timeout: 20_000 });
  if (info.error && (info.error as NodeJS.ErrnoException).code === 'ENOENT')
    throw new MissingPrerequisite(`${purpose} (no docker command here: install Docker, e.g. apt-get install docker.io)`);
  if (info.status !== 0) {
    const where = env.DOCKER_HOST ? ` at ${env.DOCKER_HOST}` : '';
    throw new MissingPrerequisite(`no Docker daemon answers${where}: ${purpose}`);
  }
  return docker;
}

/** How to get kubectl, for the commands that need it (Debian's kubernetes-client 1.20 bundles a kustomize without components). */
export const KUBECTL_HOW = 'install a current kubectl (it bundles kustomize): https://kubernetes.io/docs/tasks/tools/';

let kustomizeVerdict: string | false | undefined;

/**
 * Why `kubectl kustomize` cannot render Strata's overlays here, or false when it can. Rendering is tried on a
 * two-file kustomization that uses a component (as every overlay does): a kubectl that runs but bundles a kustomize
 * from before components (Debian's `kubernetes-client` 1.20 does) is as unable as none. Checked once per process.
 */
export function kustomizeMissing(env: NodeJS.ProcessEnv = process.env): string | false {
  if (env !== process.env) return checkKustomize(env);
  return (kustomizeVerdict ??= checkKustomize(env));
}

function checkKustomize(env: NodeJS.ProcessEnv): string | false {
  const version = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8', timeout: 20_000, env });
  if (version.status !== 0) return `kubectl is not installed, and it renders the overlays (kubectl kustomize): ${KUBECTL_HOW}`;
  const dir = mkdtempSync(join(tmpdir(), 'strata-kustomize-'));
  try {
    mkdirSync(join(dir, 'component'));
    writeFileSync(
      join(dir, 'kustomization.yaml'),
      'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\ncomponents:\n  - component\n',
    );
    writeFileSync(
      join(dir, 'component', 'kustomization.yaml'),
      'apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nresources:\n  - cm.yaml\n',
    );
    writeFileSync(join(dir, 'component', 'cm.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: probe\n');
    const render = spawnSync('kubectl', ['kustomize', dir], { encoding: 'utf8', timeout: 20_000, env });
    return render.status === 0 && render.stdout.includes('name: probe')
      ? false
      : `this kubectl (${version.stdout.trim().split('\n')[0]}) bundles a kustomize without components: ${KUBECTL_HOW}`;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Whether `command` runs here (found on PATH, or an absolute path that exists). */
export function commandExists(command: string, env: NodeJS.ProcessEnv = process.env): boolean {
  const probe = spawnSync(command, ['--help'], { stdio: 'ignore', env, timeout: 20_000 });
  return !(probe.error && (probe.error as NodeJS.ErrnoException).code === 'ENOENT');
}

/** Checks that `command` is installed; `how` says how to get it, e.g. "install kubectl 1.27 or newer (it bundles kustomize)". */
export function requireCommand(command: string, how: string, env: NodeJS.ProcessEnv = process.env): void {
  if (!commandExists(command, env)) throw new MissingPrerequisite(`${command} is not installed: ${how}`);
}

/**
 * Checks that something answers HTTP at `url` (any status counts: a 503 from a starting gateway is an answer). `hint`
 * says how to get it running, e.g. "start Strata with `npm start`, or pass --base-url".
 */
export async function requireAnswer(url: string, hint: string, timeoutMs = 3_000): Promise<void> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    await response.body?.cancel();
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).name;
    const why = cause === 'TimeoutError' ? ` within ${timeoutMs / 1000} s` : cause ? ` (${cause})` : '';
    throw new MissingPrerequisite(`nothing answers at ${new URL(url).origin}${why}: ${hint}`);
  }
}

/**
 * Checks that a gRPC server answers at `target` (a channel to it becomes ready: a connection and an HTTP/2
 * handshake), for commands that call a service straight, without the gateway.
 */
export async function requireGrpcAnswer(target: string, hint: string, timeoutMs = 3_000): Promise<void> {
  const client = new Client(target, credentials.createInsecure());
  try {
    await new Promise<void>((resolve, reject) =>
      client.waitForReady(Date.now() + timeoutMs, (error) => (error ? reject(error) : resolve())),
    );
  } catch {
    throw new MissingPrerequisite(`nothing answers gRPC at ${target} within ${timeoutMs / 1000} s: ${hint}`);
  } finally {
    client.close();
  }
}

/** Checks that a TCP port can be listened on; `what` names its user and how to move it, e.g. "the gateway: set GATEWAY_PORT". */
export async function requireFreePort(port: number, what: string, host = '127.0.0.1'): Promise<void> {
  if (port === 0) return;
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        error.code === 'EADDRINUSE' ? new MissingPrerequisite(`port ${port} on ${host} is in use by another program, and ${what}`) : error,
      ),
    );
    server.listen(port, host, () => server.close(() => resolve()));
  });
}
