import { readFileSync } from 'node:fs';
import { AutoscalerSet, readAutoscaler, SYNC_PERIOD_MS, type AutoscalerStatus, type PodSample } from '@strata/autoscaler';
import { milliCpu, readOverlayAutoscalers, type DeploymentSpec } from '@strata/service-registry';
import type { ReplicaStatus, Supervisor } from './supervisor.js';

/** How the HPA controller runs here: its sync period, and where a process's CPU time is read. */
export interface AutoscalingOptions {
  /** The controller's sync period (Kubernetes: 15 s, `--horizontal-pod-autoscaler-sync-period`). */
  syncPeriodMs?: number;
  /** Cumulative CPU seconds (user + system) of a process, undefined when it cannot be read. */
  cpuSeconds?: (pid: number) => number | undefined;
}

/** USER_HZ: the unit of /proc/<pid>/stat's utime and stime, 100 on every Linux architecture Node runs on. */
const TICKS_PER_SECOND = 100;

/**
 * A process's CPU time from /proc/<pid>/stat (fields 14 and 15, counted after the command name, which may hold spaces
 * or parentheses). Linux only: elsewhere undefined, and the autoscalers report FailedGetResourceMetric and keep their
 * scale, as an HPA without metrics-server does.
 */
export function procCpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[0] is field 3 (state): utime is field 14, stime field 15.
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}

/** The meter's key of a replica's process (a restarted replica is a new process, whose counter starts over). */
const processKey = (r: ReplicaStatus) => `${r.id}/${r.pid}`;

/**
 * The HorizontalPodAutoscalers of the overlay the local cluster runs, acting on it as the Kubernetes controller acts on
 * a cluster: every sync period it reads each replica's CPU (the process's CPU time: what a kubelet reads of a
 * container), runs the controller's algorithm (@strata/autoscaler) against the Deployment's CPU request, and sets the
 * service's desired count through the supervisor — the same control loop an overlay edit goes through, so a scale-down
 * drains as it always does. The overlay's `replicas:` is each HPA's minReplicas (k8s/components/hpa-follows-replicas);
 * an edit re-reads the HPAs.
 */
export class LocalAutoscaling {
  private readonly set = new AutoscalerSet();
  private readonly requests: Map<string, number>;
  private readonly syncPeriodMs: number;
  private readonly cpuSeconds: (pid: number) => number | undefined;
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly supervisor: Supervisor,
    private readonly overlayDir: string,
    deployments: readonly DeploymentSpec[],
    options: AutoscalingOptions = {},
  ) {
    this.syncPeriodMs = options.syncPeriodMs ?? SYNC_PERIOD_MS;
    this.cpuSeconds = options.cpuSeconds ?? procCpuSeconds;
    this.requests = new Map(deployments.map((d) => [d.name, milliCpu(d.resources.requests.cpu) ?? 0]));
    this.reload();
  }

  /** Re-reads the overlay's autoscalers (after an edit): new minima and maxima apply from the next sync on. */
  reload(): void {
    const running = new Set(this.supervisor.services().map((s) => s.service));
    const specs = readOverlayAutoscalers(this.overlayDir)
      .map(readAutoscaler)
      .filter((a) => running.has(a.target));
    for (const spec of specs)
      if (!this.requests.get(spec.target))
        throw new Error(
          `HorizontalPodAutoscaler ${spec.name}: Deployment ${spec.target} declares no CPU request, so CPU utilization has no meaning`,
        );
    this.set.declare(new Map(specs.map((s) => [s.name, s])));
  }

  /** Starts syncing every period; the first reading of each replica's CPU is taken now, so the first sync has a window. */
  start(): void {
    this.sample(Date.now());
    this.timer = setInterval(() => this.sync(), this.syncPeriodMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Each autoscaler as the last sync left it (what `kubectl get hpa` and the live page show). */
  status(): AutoscalerStatus[] {
    const services = this.supervisor.services();
    return this.set
      .status((spec) => {
        const s = services.find((x) => x.service === spec.target);
        return { current: s?.current ?? 0, desired: s?.desired ?? 0 };
      })
      .map((e) => e.status);
  }

  /** Reads every live replica's CPU time into the meter. */
  private sample(now: number): void {
    const keys: string[] = [];
    for (const r of this.supervisor.status()) {
      const seconds = r.pid ? this.cpuSeconds(r.pid) : undefined;
      if (seconds === undefined) continue;
      this.set.meter.record(processKey(r), seconds, now);
      keys.push(processKey(r));
    }
    this.set.meter.keep(keys);
  }

  /** A replica as the HPA controller sees a pod: phase, readiness and its last transition, request and CPU sample. */
  private podOf(replica: ReplicaStatus): PodSample {
    const since = Date.parse(replica.since);
    return {
      name: replica.id,
      // Not launched yet: Pending. Being drained: deleting (its samples are ignored). Otherwise running, ready or not.
      phase: replica.state === 'stopped' ? 'Pending' : 'Running',
      deleting: replica.state === 'terminating',
      ready: replica.state === 'ready',
      readyChangedAt: since,
      startedAt: replica.startedAt ? Date.parse(replica.startedAt) : since,
      requestMilli: this.requests.get(replica.service)!,
      usage: replica.pid ? this.set.meter.usage(processKey(replica)) : undefined,
    };
  }

  /** One sync of every autoscaler. */
  sync(now = Date.now()): void {
    this.sample(now);
    const services = this.supervisor.services();
    const replicas = this.supervisor.status();
    const decisions = this.set.sync(now, (spec) => {
      const service = services.find((s) => s.service === spec.target);
      if (!service) return undefined;
      const pods = replicas.filter((r) => r.service === spec.target).map((r) => this.podOf(r));
      return { current: service.desired, pods, existing: service.current };
    });
    for (const { spec, decision } of decisions)
      if (decision.desired !== decision.current)
        this.supervisor.setDesired(spec.target, decision.desired, `HPA ${spec.name}: ${decision.why}`);
    this.supervisor.emit('change', this.supervisor.status());
  }
}
