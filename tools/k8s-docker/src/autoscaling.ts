import { AutoscalerSet, readAutoscaler, SYNC_PERIOD_MS, type Autoscaler, type AutoscalerStatus, type PodSample } from '@strata/autoscaler';
import { containerCpuSeconds } from './container-cpu.js';
import type { Pod } from './kubelet.js';
import { matches, milliCpu, type KubeObject } from './objects.js';

/** What the HPA controller needs of the cluster: the objects, the pods, events, and a way to say the state changed. */
export interface AutoscalingHost {
  list(kind: string): KubeObject[];
  object(kind: string, namespace: string, name: string): KubeObject | undefined;
  pods(namespace: string): Pod[];
  event(object: string, namespace: string, type: 'Normal' | 'Warning', reason: string, message: string): void;
  changed(): void;
}

/**
 * The HorizontalPodAutoscaler controller of this node: every sync period (15 s, as the controller manager's default)
 * each HPA's pods are measured — each container's CPU time from its cgroup, as metrics-server reports it from the
 * kubelet — the algorithm of @strata/autoscaler decides, and the Deployment's `spec.replicas` (its scale) is set; the
 * Deployment controller does the rest, as in a cluster. `kubectl apply` of a render puts the declared replicas back, as
 * it does on a cluster when the manifest carries `replicas`; the HPA corrects it at its next sync.
 *
 * Where it differs from a cluster: a pod that was ready and then became unready counts as one that never was (the
 * runtime keeps when a pod became ready, not when it stopped being ready).
 */
export class NodeAutoscalers {
  private readonly set = new AutoscalerSet();
  private lastSync = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly syncPeriodMs = SYNC_PERIOD_MS,
    private readonly cpuSeconds: (containerId: string) => number | undefined = containerCpuSeconds,
  ) {}

  /** Called on every tick of the control loop; syncs when a period has passed since the last sync. */
  tick(host: AutoscalingHost, now = Date.now()): void {
    if (now - this.lastSync < this.syncPeriodMs) return;
    this.lastSync = now;
    this.sample(host, now);
    const specs = new Map<string, Autoscaler>();
    for (const object of host.list('HorizontalPodAutoscaler')) {
      const namespace = object.metadata.namespace ?? 'default';
      try {
        specs.set(`${namespace}/${object.metadata.name}`, readAutoscaler(object));
      } catch (error) {
        host.event(
          `horizontalpodautoscaler/${object.metadata.name}`,
          namespace,
          'Warning',
          'FailedComputeMetricsReplicas',
          (error as Error).message,
        );
      }
    }
    this.set.declare(specs);
    const namespaceOf = new Map([...specs].map(([key, spec]) => [spec, key.split('/')[0]!]));
    const decisions = this.set.sync(now, (spec) => {
      const namespace = namespaceOf.get(spec)!;
      const deployment = host.object('Deployment', namespace, spec.target);
      if (!deployment) {
        host.event(
          `horizontalpodautoscaler/${spec.name}`,
          namespace,
          'Warning',
          'FailedGetScale',
          `deployments.apps "${spec.target}" not found`,
        );
        return undefined;
      }
      const pods = host
        .pods(namespace)
        .filter((p) => p.owner?.kind === 'ReplicaSet' && matches(deployment.spec.selector, p.labels))
        .map((p) => this.podSample(p));
      return { current: (deployment.spec.replicas as number | undefined) ?? 1, pods, existing: pods.filter((p) => !p.deleting).length };
    });
    for (const { key, spec, decision } of decisions) {
      const namespace = key.split('/')[0]!;
      const id = `horizontalpodautoscaler/${spec.name}`;
      if (decision.reason === 'FailedGetResourceMetric') host.event(id, namespace, 'Warning', decision.reason, decision.why);
      if (decision.desired === decision.current) continue;
      host.object('Deployment', namespace, spec.target)!.spec.replicas = decision.desired;
      host.event(id, namespace, 'Normal', 'SuccessfulRescale', `New size: ${decision.desired}; reason: ${decision.why}`);
    }
    host.changed();
  }

  /** Each HPA as its last sync left it (for `status`, as `kubectl get hpa`). */
  status(): (AutoscalerStatus & { namespace: string })[] {
    return this.set.status(() => ({ current: 0, desired: 0 })).map(({ key, status }) => ({ ...status, namespace: key.split('/')[0]! }));
  }

  /** Reads every running container's CPU time. */
  private sample(host: AutoscalingHost, now: number): void {
    const keys: string[] = [];
    const namespaces = new Set(host.list('HorizontalPodAutoscaler').map((o) => o.metadata.namespace ?? 'default'));
    for (const namespace of namespaces)
      for (const pod of host.pods(namespace))
        for (const c of pod.containers) {
          if (!c.containerId || !('running' in c.state)) continue;
          const seconds = this.cpuSeconds(c.containerId);
          if (seconds === undefined) continue;
          this.set.meter.record(c.containerId, seconds, now);
          keys.push(c.containerId);
        }
    this.set.meter.keep(keys);
  }

  /** A pod as the HPA controller sees it: the sum of its containers' requests and of their usage over the window. */
  private podSample(pod: Pod): PodSample {
    const requestMilli = pod.spec.containers.reduce(
      (sum, c) => sum + (milliCpu(c.resources?.requests?.cpu) ?? milliCpu(c.resources?.limits?.cpu) ?? 0),
      0,
    );
    const usages = pod.containers.map((c) => (c.containerId ? this.set.meter.usage(c.containerId) : undefined));
    const usage = usages.every((u) => u !== undefined)
      ? {
          milli: usages.reduce((sum, u) => sum + u!.milli, 0),
          at: Math.min(...usages.map((u) => u!.at)),
          windowMs: Math.max(...usages.map((u) => u!.windowMs)),
        }
      : undefined;
    return {
      name: pod.name,
      phase: pod.phase === 'Succeeded' ? 'Failed' : pod.phase,
      deleting: pod.deleting,
      ready: pod.ready,
      readyChangedAt: pod.readySince ?? pod.createdAt,
      startedAt: pod.createdAt,
      requestMilli,
      usage: pod.containers.length > 0 ? usage : undefined,
    };
  }
}
