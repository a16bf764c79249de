import { execFileSync } from 'node:child_process';
import type { StartedTestContainer } from 'testcontainers';
import { scrapeCounter } from '@strata/test-kit';
import { ContainerTopology, type ServiceName } from './container-topology.js';
import type { ExperimentTarget, ScaleOut } from './experiment.js';

/** Containers: scale-out starts containers with the same network alias; traffic is read from each one's metrics. */
export class ContainersTarget implements ExperimentTarget {
  readonly name = 'containers';
  constructor(readonly topology: ContainerTopology) {}

  baseUrls(): string[] {
    return this.topology.gatewayUrls();
  }

  async scaleTo(service: string, count: number): Promise<ScaleOut> {
    const added: StartedTestContainer[] = await this.topology.scaleTo(service as ServiceName, count);
    const readyAt = Date.now();
    return {
      secondsUntilTraffic: (timeoutMs) =>
        Promise.all(
          added.map(async (container) => {
            const url = this.topology.metricsUrl(container);
            while (Date.now() - readyAt < timeoutMs) {
              if ((await scrapeCounter(url, 'grpc_server_handled_total', {}, 1_000)) > 0) return (Date.now() - readyAt) / 1000;
              await new Promise((r) => setTimeout(r, 200));
            }
            return Number.NaN;
          }),
        ),
    };
  }

  othersFingerprint(service: string): Promise<string> {
    return this.topology.startTimes(service as ServiceName).then((times) => JSON.stringify(times));
  }
}

/**
 * The current kubectl context (e.g. minikube): `kubectl scale` adds replicas; the gateway URL is given
 * (`--base-url`, e.g. from `minikube service gateway -n strata --url`). Time-to-traffic is not measured here.
 */
export class KubernetesTarget implements ExperimentTarget {
  readonly name = 'k8s';
  constructor(
    private readonly baseUrl: string,
    private readonly namespace = 'strata',
  ) {}

  baseUrls(): string[] {
    return [this.baseUrl];
  }

  private kubectl(...args: string[]): string {
    return execFileSync('kubectl', ['-n', this.namespace, ...args], { encoding: 'utf8' });
  }

  async scaleTo(service: string, count: number): Promise<ScaleOut> {
    // The HPA would fight a manual scale; it keeps minReplicas = the overlay's declaration, so raise it too.
    this.kubectl('patch', 'hpa', service, '--type=merge', '-p', JSON.stringify({ spec: { minReplicas: count } }));
    this.kubectl('scale', `deployment/${service}`, `--replicas=${count}`);
    this.kubectl('rollout', 'status', `deployment/${service}`, '--timeout=180s');
    return { secondsUntilTraffic: async () => [Number.NaN] };
  }

  async othersFingerprint(service: string): Promise<string> {
    const pods = JSON.parse(this.kubectl('get', 'pods', '-l', 'app.kubernetes.io/part-of=strata', '-o', 'json')) as {
      items: { metadata: { name: string; labels: Record<string, string> }; status: { containerStatuses?: { restartCount: number }[] } }[];
    };
    return JSON.stringify(
      pods.items
        .filter((p) => p.metadata.labels['app.kubernetes.io/name'] !== service)
        .map((p) => `${p.metadata.name}:${(p.status.containerStatuses ?? []).reduce((a, c) => a + c.restartCount, 0)}`)
        .sort(),
    );
  }

  /** Puts a layer back to `count` replicas (the start of the experiment). */
  reset(service: string, count: number): void {
    this.kubectl('scale', `deployment/${service}`, `--replicas=${count}`);
    this.kubectl('patch', 'hpa', service, '--type=merge', '-p', JSON.stringify({ spec: { minReplicas: count } }));
    this.kubectl('rollout', 'status', `deployment/${service}`, '--timeout=180s');
  }
}
