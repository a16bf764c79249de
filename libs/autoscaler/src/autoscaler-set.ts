import { HpaController, type Decision } from './controller.js';
import { CpuMeter } from './cpu-window.js';
import type { Autoscaler } from './hpa.js';
import type { PodSample } from './replica-calculator.js';
import { statusAfter, type AutoscalerStatus } from './status.js';

/** What a runtime says of one HPA's target at a sync: its scale, its pods as the controller sees them, how many exist. */
export interface ScaleView {
  current: number;
  pods: PodSample[];
  existing: number;
}

/**
 * The autoscalers of one runtime (the local cluster, the container node): a controller per HPA, keeping its history
 * between syncs and taking a changed spec without losing it, as the Kubernetes controller keeps its state per HPA; the
 * last status of each; and the CPU meter the runtime feeds its readings into. The runtime reads its HPA objects and its
 * replicas; everything between is here.
 */
export class AutoscalerSet {
  readonly meter = new CpuMeter();
  private readonly entries = new Map<string, { controller: HpaController; status?: AutoscalerStatus }>();

  /** The HPAs as declared now, by key: new ones start a controller, known ones keep their history, gone ones are dropped. */
  declare(specs: ReadonlyMap<string, Autoscaler>): void {
    for (const [key, spec] of specs) {
      const entry = this.entries.get(key);
      if (entry) entry.controller.spec = spec;
      else this.entries.set(key, { controller: new HpaController(spec) });
    }
    for (const key of this.entries.keys()) if (!specs.has(key)) this.entries.delete(key);
  }

  /** One sync of every HPA whose target `view` knows; returns the decisions, which the runtime applies. */
  sync(now: number, view: (spec: Autoscaler) => ScaleView | undefined): { key: string; spec: Autoscaler; decision: Decision }[] {
    const out: { key: string; spec: Autoscaler; decision: Decision }[] = [];
    for (const [key, entry] of this.entries) {
      const { spec } = entry.controller;
      const target = view(spec);
      if (!target) continue;
      const decision = entry.controller.sync(now, target.current, target.pods);
      entry.status = statusAfter(entry.status, spec, decision, target.existing);
      out.push({ key, spec, decision });
    }
    return out;
  }

  /** Each HPA's status; one not synced yet shows its declaration and `initial` replicas, utilization unknown. */
  status(initial: (spec: Autoscaler) => { current: number; desired: number }): { key: string; status: AutoscalerStatus }[] {
    return [...this.entries].map(([key, { controller, status }]) => {
      if (status) return { key, status };
      const { spec } = controller;
      const replicas = initial(spec);
      return {
        key,
        status: {
          name: spec.name,
          reference: `Deployment/${spec.target}`,
          minReplicas: spec.minReplicas,
          maxReplicas: spec.maxReplicas,
          targetUtilization: spec.targetCpuUtilization,
          currentReplicas: replicas.current,
          desiredReplicas: replicas.desired,
          createdAt: new Date().toISOString(),
        },
      };
    });
  }
}
