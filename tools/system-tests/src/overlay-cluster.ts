import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { DockerCluster, parseImageMap, renderOverlay, type KubeObject, type Pod } from '@strata/k8s-docker';
import { REPO_ROOT } from '@strata/local-cluster';
import { dockerBinary, kustomizeMissing } from '@strata/preflight';
import { loadServices } from '@strata/service-registry';
import type { Summary } from './k6-runner.js';

export const DOCKER = dockerBinary();
const registry = loadServices();

/**
 * Why the executed-overlay tests cannot run here, or false: they need a Docker engine, kubectl (kustomize renders the
 * overlay), the images of `npm run images` and the postgres stand-in (`npm run images:postgres`).
 */
export function overlaySkipReason(): string | false {
  if (spawnSync(DOCKER, ['info'], { stdio: 'ignore' }).status !== 0) return 'no Docker engine answers here: the overlay was NOT executed';
  const noKustomize = kustomizeMissing();
  if (noKustomize) return `${noKustomize}: the overlay was NOT executed`;
  const missing = [...registry.names.map((s) => `strata/${s}:dev`), 'strata/postgres:dev'].filter(
    (image) => spawnSync(DOCKER, ['image', 'inspect', image], { stdio: 'ignore' }).status !== 0,
  );
  return missing.length
    ? `images missing (${missing.join(', ')}: npm run images; npm run images:postgres): the overlay was NOT executed`
    : false;
}

/** A node running an overlay of k8s/ (the real render, Strata's images at `tag`), plus the test's ways in. */
export class OverlayCluster {
  private constructor(
    readonly cluster: DockerCluster,
    readonly overlay: string,
    readonly tag: string,
  ) {}

  static async start(name: string, overlay = 'minikube', tag = 'dev', options: { hpaSyncPeriodMs?: number } = {}): Promise<OverlayCluster> {
    const cluster = await DockerCluster.start({ name, imageMap: parseImageMap([]), ...options });
    return new OverlayCluster(cluster, overlay, tag);
  }

  /** Renders the overlay (with `extra` Kustomize fields on top) and applies it; returns kubectl-apply-like lines. */
  apply(extra?: Record<string, unknown>): string[] {
    return this.cluster.apply(this.render(extra));
  }

  render(extra?: Record<string, unknown>): KubeObject[] {
    return renderOverlay({
      overlayDir: join(REPO_ROOT, 'k8s', 'overlays', this.overlay),
      tag: this.tag,
      extra,
      workDir: join(this.cluster.stateDir, 'overlay'),
    });
  }

  /** Live (not terminating) pods of a workload, by the app label every Strata pod carries. */
  pods(app: string, namespace = 'strata'): Pod[] {
    return this.cluster.pods(namespace, { 'app.kubernetes.io/name': app }).filter((p) => !p.deleting);
  }

  gatewayUrl(namespace = 'strata'): string {
    return this.cluster.nodePortUrl(namespace, 'gateway');
  }

  async waitFor(what: string, condition: () => boolean, timeoutMs = 60_000): Promise<number> {
    const started = performance.now();
    while (!condition()) {
      if (performance.now() - started > timeoutMs) assert.fail(`${what}: not within ${timeoutMs / 1000} s`);
      await delay(100);
    }
    return performance.now() - started;
  }

  /** Runs a k6 script as a pod of the namespace (k6 and the scripts mounted from this host): Services by their DNS names. */
  async k6InPod(
    k6: string,
    file: string,
    env: Record<string, string>,
    namespace = 'strata',
  ): Promise<{ code: number; output: string; summary: Summary }> {
    const out = mkdtempSync(join(tmpdir(), 'strata-k6-pod-'));
    chmodSync(out, 0o777);
    const name = `k6-${file.replace(/\.js$/, '')}-${Date.now().toString(36)}`;
    const pod: KubeObject = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, namespace, labels: { 'app.kubernetes.io/name': 'k6' } },
      spec: {
        restartPolicy: 'Never',
        securityContext: { runAsNonRoot: true, runAsUser: 10001, runAsGroup: 10001, seccompProfile: { type: 'RuntimeDefault' } },
        containers: [
          {
            name: 'k6',
            image: this.cluster.image,
            command: ['/k6/k6'],
            args: [
              'run',
              '--quiet',
              '--no-color',
              '--summary-export',
              '/out/summary.json',
              ...Object.entries(env).flatMap(([k, v]) => ['-e', `${k}=${v}`]),
              `/loadtests/k6/${file}`,
            ],
            volumeMounts: [
              { name: 'k6', mountPath: '/k6/k6', readOnly: true },
              { name: 'loadtests', mountPath: '/loadtests', readOnly: true },
              { name: 'out', mountPath: '/out' },
            ],
            resources: { limits: { cpu: '500m', memory: '256Mi' } },
            securityContext: { readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
          },
        ],
        volumes: [
          { name: 'k6', hostPath: { path: k6, type: 'File' } },
          { name: 'loadtests', hostPath: { path: join(REPO_ROOT, 'loadtests'), type: 'Directory' } },
          { name: 'out', hostPath: { path: out, type: 'Directory' } },
        ],
      },
    };
    this.cluster.apply([pod]);
    const find = () => this.cluster.pods(namespace).find((p) => p.name === name);
    await this.waitFor(`pod ${name} finished`, () => ['Succeeded', 'Failed'].includes(find()?.phase ?? ''), 90_000);
    const status = find()!.containers[0]!;
    const code = 'terminated' in status.state ? status.state.terminated.exitCode : -1;
    const output = await this.cluster.node.logs(status.containerId!, 200);
    await this.cluster.delete('Pod', namespace, name);
    return { code, output, summary: JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as Summary };
  }

  stop(): Promise<void> {
    return this.cluster.stop({ removeVolumes: true });
  }
}

/** An image's immutable name: strata/<service>:<first 12 hex digits of its image id>. */
export function pinned(service: string, reference: string): string {
  const id = imageId(reference).replace('sha256:', '');
  const image = `strata/${service}:${id.slice(0, 12)}`;
  execFileSync(DOCKER, ['tag', reference, image]);
  return image;
}

/** Release B of a service: release A with one more layer (a label), so a different image with the same behaviour. */
export function releaseB(service: string, a: string): string {
  const built = spawnSync(DOCKER, ['build', '-q', '-t', `strata/${service}:rollout-b`, '-'], {
    input: `FROM ${a}\nLABEL org.opencontainers.image.revision="rollout test: release B"\n`,
    encoding: 'utf8',
    env: { ...process.env, DOCKER_BUILDKIT: '0' },
  });
  assert.equal(built.status, 0, built.stderr);
  return pinned(service, `strata/${service}:rollout-b`);
}

/** The image a pod's (first) container runs, as the engine reports it: the reference it was created from. */
export function runningImage(pod: Pod): string {
  return execFileSync(DOCKER, ['inspect', '-f', '{{.Config.Image}}', pod.containers[0]!.containerId!], { encoding: 'utf8' }).trim();
}

/** The id (sha256:…) of the image a pod's (first) container runs: what it runs, whatever name pointed there. */
export function runningImageId(pod: Pod): string {
  return execFileSync(DOCKER, ['inspect', '-f', '{{.Image}}', pod.containers[0]!.containerId!], { encoding: 'utf8' }).trim();
}

/** The id (sha256:…) an image reference names now. */
export function imageId(reference: string): string {
  return execFileSync(DOCKER, ['image', 'inspect', '-f', '{{.Id}}', reference], { encoding: 'utf8' }).trim();
}
