import type { AutoscalerStatus } from '@strata/autoscaler';
import { readReplicaSample, sampleDelta, windowStats, type ReplicaSample, type SampleDelta, type WindowStats } from './replica-sample.js';

/** A replica's window, and what it last reported to its clients' balancers (gRPC services). */
export type ReplicaStats = WindowStats & Pick<ReplicaSample, 'balancer'>;

/** One replica as the source of the view knows it (the supervisor locally, Docker in the capacity experiment). */
export interface ReplicaView {
  id: string;
  service: string;
  layer: string;
  /** starting | ready | terminating | backoff | stopped | … */
  state: string;
  address: string;
  pid?: number;
  restarts: number;
  /** The build it runs (a revision of the change loop, "r2-3fa9c1d"), where the source knows one. */
  revision?: string;
  /** Where its Prometheus metrics are; none for a replica without any (the embedded database). */
  metricsUrl?: string;
}

export interface ServiceView {
  name: string;
  layer: string;
  desired: number;
  ready: number;
  current: number;
  /** The revision new replicas start from, and how many current replicas run it (UP-TO-DATE). */
  revision?: string;
  updated?: number;
  /** A rollout in progress, as `kubectl rollout status` words it. */
  rollout?: string;
  /** The HorizontalPodAutoscaler acting on it, where one does. */
  autoscaler?: AutoscalerView;
}

/** An autoscaler as `kubectl get hpa` and `describe hpa` show it: what the page shows of @strata/autoscaler's status. */
export type AutoscalerView = Pick<
  AutoscalerStatus,
  | 'name'
  | 'minReplicas'
  | 'maxReplicas'
  | 'targetUtilization'
  | 'currentUtilization'
  | 'currentReplicas'
  | 'desiredReplicas'
  | 'lastSync'
  | 'lastScale'
>;

export interface TopologyView {
  /** What is being shown, e.g. "local cluster (k8s/overlays/local)". */
  title: string;
  services: ServiceView[];
  replicas: ReplicaView[];
  /** The last things the control loop (or the experiment) did, oldest first. */
  events: { at: string; service: string; message: string }[];
  /** Lines about work in progress, e.g. the capacity experiment's current step. */
  notes?: string[];
}

/** Points kept per service: one a second, for the charts. */
export interface HistoryPoint {
  at: number;
  rate: number;
  p50Ms: number;
  p99Ms: number;
  errorRatio: number;
  cpuCores: number;
  replicas: number;
}

interface Series {
  service: string;
  samples: ReplicaSample[];
  lastSeen: number;
}

/**
 * Scrapes every replica's `/metrics` once a second and turns the counters into what the page shows: per replica and
 * per service, requests/s, p50/p99 latency, error ratio and CPU over the last `windowMs`, and a per-service history of
 * the last `historyMs`. It reads only what the services already expose; the replica list comes from the view's source.
 */
export class LiveMetrics {
  private readonly series = new Map<string, Series>();
  private readonly history = new Map<string, HistoryPoint[]>();
  private timer?: NodeJS.Timeout;
  private scraping = false;

  constructor(
    private readonly source: () => TopologyView,
    private readonly options: { intervalMs?: number; windowMs?: number; historyMs?: number; timeoutMs?: number } = {},
  ) {}

  start(): this {
    const interval = this.options.intervalMs ?? 1_000;
    this.timer = setInterval(() => void this.scrape(), interval);
    this.timer.unref();
    void this.scrape();
    return this;
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** A replica's series is keyed by its id and process: a restarted replica starts from zero, as its counters do. */
  private static key(replica: ReplicaView): string {
    return `${replica.id}#${replica.pid ?? replica.address}`;
  }

  /** One round of scrapes (exported for tests; the timer calls it). */
  async scrape(): Promise<void> {
    if (this.scraping) return;
    this.scraping = true;
    try {
      const view = this.source();
      const now = Date.now();
      const timeout = this.options.timeoutMs ?? 800;
      await Promise.all(
        view.replicas
          .filter((r) => r.metricsUrl && r.state !== 'stopped' && r.state !== 'backoff')
          .map(async (replica) => {
            let text: string;
            try {
              const response = await fetch(replica.metricsUrl!, { signal: AbortSignal.timeout(timeout) });
              if (!response.ok) return;
              text = await response.text();
            } catch {
              return; // a replica that is starting, gone or too busy to answer: no point this round
            }
            const key = LiveMetrics.key(replica);
            let series = this.series.get(key);
            if (!series) this.series.set(key, (series = { service: replica.service, samples: [], lastSeen: now }));
            series.samples.push(readReplicaSample(text, Date.now()));
            series.lastSeen = now;
            const keepFrom = Date.now() - (this.options.windowMs ?? 5_000) - 1_500;
            while (series.samples.length > 2 && series.samples[0]!.at < keepFrom) series.samples.shift();
          }),
      );
      for (const [key, series] of this.series) if (now - series.lastSeen > 30_000) this.series.delete(key);
      const historyMs = this.options.historyMs ?? 5 * 60_000;
      for (const service of view.services) {
        const stats = this.serviceStats(service.name, view);
        const points = this.history.get(service.name) ?? [];
        points.push({ at: now, ...stats, replicas: service.ready });
        while (points.length > 0 && points[0]!.at < now - historyMs) points.shift();
        this.history.set(service.name, points);
      }
    } finally {
      this.scraping = false;
    }
  }

  private delta(replica: ReplicaView): SampleDelta | undefined {
    const samples = this.series.get(LiveMetrics.key(replica))?.samples;
    if (!samples || samples.length < 2) return undefined;
    const last = samples.at(-1)!;
    const from = samples.find((s) => s.at >= last.at - (this.options.windowMs ?? 5_000)) ?? samples[0]!;
    return from === last ? sampleDelta(samples.at(-2)!, last) : sampleDelta(from, last);
  }

  /** A replica's rates over the window; undefined until it has been scraped twice. */
  replicaStats(replica: ReplicaView): ReplicaStats | undefined {
    const delta = this.delta(replica);
    if (!delta) return undefined;
    const balancer = this.series.get(LiveMetrics.key(replica))?.samples.at(-1)?.balancer;
    return { ...windowStats([delta]), ...(balancer && { balancer }) };
  }

  /** A service's rates over the window: its ready and draining replicas together. */
  serviceStats(service: string, view: TopologyView): WindowStats {
    const deltas = view.replicas.filter((r) => r.service === service).flatMap((r) => this.delta(r) ?? []);
    return windowStats(deltas);
  }

  historyOf(service: string): HistoryPoint[] {
    return this.history.get(service) ?? [];
  }
}
