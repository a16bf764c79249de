import type { TopologyView } from '@strata/console';
import { loadServices } from '@strata/service-registry';
import { requestsServed } from './accounting.js';
import type { LoadEndpoints } from './drivers.js';

const registry = loadServices();

export type Placement = { name: 'shared' } | { name: 'pinned'; stepped: number[]; fixed: number[] };

/** One replica as the experiment accounts for it. */
export interface ReplicaHandle {
  id: string;
  service: string;
  metricsUrl?: string;
  /** CPU seconds it has used so far; NaN where this target cannot read them. */
  cpuSeconds(): number;
  /** Its CPU quota in cores; NaN where there is none (local processes). */
  quota: number;
  /** CFS periods in which its quota throttled it, so far (containers). */
  throttledPeriods?(): number;
}

export interface ScaleOut {
  /** Per new replica, seconds from ready to its first served call (NaN if none within the timeout). */
  secondsUntilTraffic(timeoutMs: number): Promise<number[]>;
}

/** Where the experiment runs: containers (default), local processes, or a Kubernetes cluster. */
export interface ExperimentTarget extends LoadEndpoints {
  readonly name: 'containers' | 'local' | 'k8s';
  /** What sets one replica's capacity here, for the report. */
  readonly capacityNote: string;
  /**
   * Where the layers run: `shared` (every container may use every host CPU, as on one node), or `pinned` (the stepped
   * layer on CPUs of its own, the fixed layers and the driver on the others: separate nodes emulated on one host).
   */
  readonly placement: Placement;
  /** Every workload whose CPU is accounted for, in start order. */
  services(): string[];
  replicas(service: string): ReplicaHandle[];
  /** Adds replicas of `service` up to `count`, live; resolves when they are ready. */
  scaleTo(service: string, count: number): Promise<ScaleOut>;
  /** Start times and restart counts of every other workload, to show that nothing else restarted. */
  othersFingerprint(service: string): Promise<string>;
  /** What the live page shows while the experiment runs. */
  view(notes: string[]): TopologyView;
  stop(): Promise<void>;
}

/** Waits until each new replica has served a call (its own metrics say so). */
export function trafficWatch(added: readonly ReplicaHandle[]): ScaleOut {
  const readyAt = Date.now();
  return {
    secondsUntilTraffic: (timeoutMs) =>
      Promise.all(
        added.map(async (replica) => {
          while (Date.now() - readyAt < timeoutMs) {
            if ((await requestsServed(replica.metricsUrl)) > 0) return (Date.now() - readyAt) / 1000;
            await new Promise((r) => setTimeout(r, 200));
          }
          return Number.NaN;
        }),
      ),
  };
}

/** The replica counts the experiment starts from: one of everything, `steps[0]` of the stepped service. */
export const startCounts = (stepped: string, first: number) =>
  Object.fromEntries(registry.names.map((n) => [n, n === stepped ? first : 1]));
