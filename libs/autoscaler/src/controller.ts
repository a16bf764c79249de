import type { Autoscaler, ScalingRules } from './hpa.js';
import { cpuReplicas, NoMetrics, TOLERANCE, type PodSample } from './replica-calculator.js';

/** The controller's `--horizontal-pod-autoscaler-sync-period` default. */
export const SYNC_PERIOD_MS = 15_000;

/** What one sync decided, with the conditions `kubectl describe hpa` would show. */
export interface Decision {
  at: number;
  /** The scale's replicas before, and what the controller sets. */
  current: number;
  desired: number;
  /** What the metric alone asked for, before stabilization and rate limits (undefined when there was no metric). */
  recommended?: number;
  /** Current average CPU utilization in percent of request (undefined: no metric). */
  utilization?: number;
  target: number;
  /** A reason as the controller names it: SucceededRescale, ScaleDownStabilized, ScaleUpLimit, TooManyReplicas, … */
  reason: string;
  /** Why, without the numbers of replicas: "cpu 140% of request, target 70%", "3 replicas are below minReplicas". */
  why: string;
  /** One sentence a person reads: "cpu 140% of request, target 70%: 2 → 4". */
  message: string;
}

/** The conditions a rate limit or a bound sets, worded as the Kubernetes controller words them. */
const LIMITED = {
  up: {
    rate: ['ScaleUpLimit', 'the desired replica count is increasing faster than the maximum scale rate'],
    bound: ['TooManyReplicas', 'the desired replica count is more than the maximum replica count'],
  },
  down: {
    rate: ['ScaleDownLimit', 'the desired replica count is decreasing faster than the maximum scale rate'],
    bound: ['TooFewReplicas', 'the desired replica count is less than the minimum replica count'],
  },
} as const;

interface Timestamped {
  at: number;
  value: number;
}

/**
 * One HorizontalPodAutoscaler's controller (kubernetes/pkg/controller/podautoscaler/horizontal.go, reconcileAutoscaler
 * and its behavior functions): the recommendations of the stabilization windows and the scale events that the
 * policies' periods count are its state, kept between syncs as the Kubernetes controller keeps them in memory.
 */
export class HpaController {
  private readonly recommendations: Timestamped[] = [];
  private readonly scaleUps: Timestamped[] = [];
  private readonly scaleDowns: Timestamped[] = [];

  constructor(
    public spec: Autoscaler,
    private readonly tolerance = TOLERANCE,
  ) {}

  /** One sync: given the scale's `current` replicas and its pods, what it should run now. */
  sync(now: number, current: number, pods: readonly PodSample[]): Decision {
    const { minReplicas, maxReplicas, targetCpuUtilization: target } = this.spec;
    const base = { at: now, current, target };
    const done = (decision: Decision): Decision => {
      if (decision.desired !== current) this.storeScaleEvent(now, current, decision.desired);
      return decision;
    };
    if (current === 0 && minReplicas !== 0) {
      const why = 'the target has 0 replicas';
      return { ...base, desired: 0, reason: 'ScalingDisabled', why, message: `${why}: scaling is disabled` };
    }
    if (current > maxReplicas) {
      const why = `${current} replicas are above maxReplicas`;
      return done({ ...base, desired: maxReplicas, reason: 'TooManyReplicas', why, message: `${why}: ${current} → ${maxReplicas}` });
    }
    if (current < minReplicas) {
      const why = `${current} replicas are below minReplicas`;
      return done({ ...base, desired: minReplicas, reason: 'TooFewReplicas', why, message: `${why}: ${current} → ${minReplicas}` });
    }
    let metric;
    try {
      metric = cpuReplicas(current, pods, target, now, this.tolerance);
    } catch (error) {
      if (!(error instanceof NoMetrics)) throw error;
      const why = `cpu: ${error.message}`;
      return { ...base, desired: current, reason: 'FailedGetResourceMetric', why, message: `${why}; keeping ${current}` };
    }
    const why = `cpu ${metric.utilization}% of request, target ${target}%`;
    const stabilized = this.stabilize(now, current, metric.replicas);
    const limited = this.limitRate(now, current, stabilized.replicas);
    const desired = limited.replicas;
    let reason = 'SucceededRescale';
    let note = '';
    if (limited.reason) {
      reason = limited.reason;
      note = ` (${limited.message}; recommended ${metric.replicas})`;
    } else if (stabilized.reason) {
      reason = stabilized.reason;
      note = ` (recommended ${metric.replicas}; ${stabilized.message})`;
    }
    if (desired === current && !note) reason = 'ReadyForNewScale';
    const message = desired === current ? `${why}: holding ${current}${note}` : `${why}: ${current} → ${desired}${note}`;
    return done({ ...base, desired, recommended: metric.replicas, utilization: metric.utilization, reason, why, message });
  }

  /**
   * stabilizeRecommendationWithBehaviors: the highest recommendation within the scale-down window caps a decrease, the
   * lowest within the scale-up window caps an increase; the unstabilized recommendation is recorded.
   */
  private stabilize(now: number, current: number, recommended: number): { replicas: number; reason?: string; message?: string } {
    const { scaleUp, scaleDown } = this.spec.behavior;
    const upCutoff = now - scaleUp.stabilizationWindowSeconds * 1000;
    const downCutoff = now - scaleDown.stabilizationWindowSeconds * 1000;
    let up = recommended;
    let down = recommended;
    for (const r of this.recommendations) {
      if (r.at > upCutoff) up = Math.min(r.value, up);
      if (r.at > downCutoff) down = Math.max(r.value, down);
    }
    // Samples older than both windows are no longer needed (the Go code reuses one such slot; same effect).
    const keepAfter = Math.min(upCutoff, downCutoff);
    for (let i = this.recommendations.length - 1; i >= 0; i--)
      if (this.recommendations[i]!.at <= keepAfter) this.recommendations.splice(i, 1);
    this.recommendations.push({ at: now, value: recommended });
    let replicas = current;
    if (replicas < up) replicas = up;
    if (replicas > down) replicas = down;
    if (replicas === recommended) return { replicas };
    return replicas > recommended
      ? { replicas, reason: 'ScaleDownStabilized', message: `the last ${scaleDown.stabilizationWindowSeconds} s recommended up to ${down}` }
      : { replicas, reason: 'ScaleUpStabilized', message: `the last ${scaleUp.stabilizationWindowSeconds} s recommended as few as ${up}` };
  }

  /** convertDesiredReplicasWithBehaviorRate: the policies' rate limits, then minReplicas and maxReplicas. */
  private limitRate(now: number, current: number, desired: number): { replicas: number; reason?: string; message?: string } {
    if (desired === current) return { replicas: desired };
    const up = desired > current;
    const { minReplicas, maxReplicas, behavior } = this.spec;
    const rate = this.rateLimit(now, current, up ? behavior.scaleUp : behavior.scaleDown, up);
    // A limit on the far side of current (the period's changes used it up) allows no change until they age out.
    const limit = up ? Math.max(current, rate) : Math.min(current, rate);
    const bound = up ? maxReplicas : minReplicas;
    const allowed = up ? Math.min(bound, limit) : Math.max(bound, limit);
    if (up ? desired <= allowed : desired >= allowed) return { replicas: desired };
    const byRate = up ? bound > limit : bound < limit;
    const [reason, message] = LIMITED[up ? 'up' : 'down'][byRate ? 'rate' : 'bound'];
    return { replicas: allowed, reason, message };
  }

  /**
   * calculateScaleUpLimitWithScalingRules and calculateScaleDownLimitWithBehaviors: what each policy allows from the
   * replicas at the start of its period (the changes made within it taken back), then the largest change of them
   * (`Max`) or the smallest (`Min`).
   */
  private rateLimit(now: number, current: number, rules: ScalingRules, up: boolean): number {
    if (rules.selectPolicy === 'Disabled') return current;
    const proposals = rules.policies.map((p) => {
      const start = current - changeWithin(this.scaleUps, now, p.periodSeconds) + changeWithin(this.scaleDowns, now, p.periodSeconds);
      if (p.type === 'Pods') return up ? start + p.value : start - p.value;
      // Rounded up on the way up (or a small count could never grow), truncated on the way down, as the Go code does.
      return up ? Math.ceil(start * (1 + p.value / 100)) : Math.trunc(start * (1 - p.value / 100));
    });
    const largestChange = rules.selectPolicy === 'Max';
    return up === largestChange ? Math.max(...proposals) : Math.min(...proposals);
  }

  /** storeScaleEvent: remembers a change for as long as the longest policy period of its direction counts it. */
  private storeScaleEvent(now: number, before: number, after: number): void {
    const up = after > before;
    const events = up ? this.scaleUps : this.scaleDowns;
    const rules = up ? this.spec.behavior.scaleUp : this.spec.behavior.scaleDown;
    const longest = Math.max(...rules.policies.map((p) => p.periodSeconds)) * 1000;
    for (let i = events.length - 1; i >= 0; i--) if (events[i]!.at <= now - longest) events.splice(i, 1);
    events.push({ at: now, value: Math.abs(after - before) });
  }
}

/** getReplicasChangePerPeriod: replicas added (or removed) within the last `periodSeconds`. */
function changeWithin(events: readonly Timestamped[], now: number, periodSeconds: number): number {
  const cutoff = now - periodSeconds * 1000;
  return events.reduce((sum, e) => (e.at > cutoff ? sum + e.value : sum), 0);
}
