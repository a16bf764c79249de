/**
 * The replica count one CPU utilization metric asks for: the HPA controller's replica calculator
 * (kubernetes/pkg/controller/podautoscaler/replica_calculator.go, GetResourceReplicas and groupPods), written out
 * again because no JavaScript package carries it. Comments name the Go function each step follows.
 */

/** The controller's `--horizontal-pod-autoscaler-tolerance` default: a ratio within 10 % of 1 changes nothing. */
export const TOLERANCE = 0.1;
/** `--horizontal-pod-autoscaler-cpu-initialization-period`: within it, CPU of a pod that just became ready is not trusted. */
export const CPU_INITIALIZATION_PERIOD_MS = 5 * 60_000;
/** `--horizontal-pod-autoscaler-initial-readiness-delay`. */
export const INITIAL_READINESS_DELAY_MS = 30_000;

/** A pod (a replica) as the controller sees it: its readiness, its CPU request and the last CPU sample, if any. */
export interface PodSample {
  name: string;
  /** 'Pending': created, not running yet; 'Running'; 'Failed'. A pod being deleted is `deleting`. */
  phase: 'Pending' | 'Running' | 'Failed';
  deleting?: boolean;
  /** The Ready condition, and when it last changed. */
  ready: boolean;
  readyChangedAt: number;
  /** When the pod started (epoch ms). */
  startedAt: number;
  /** The CPU request of its container, in millicores. */
  requestMilli: number;
  /** What the metrics pipeline reports: average CPU over `windowMs` ending at `at`, in millicores. None: no sample yet. */
  usage?: { milli: number; at: number; windowMs: number };
}

export interface CpuRecommendation {
  replicas: number;
  /** Average utilization of the pods whose samples counted, in percent of their request (integer, as the controller keeps it). */
  utilization: number;
  /** Pods whose samples counted, and those left out by readiness or missing a sample. */
  counted: number;
  unready: number;
  missing: number;
}

/** No pod of the target has a sample the controller may use (the FailedGetResourceMetric condition). */
export class NoMetrics extends Error {}

interface Grouped {
  readyCount: number;
  unready: PodSample[];
  missing: PodSample[];
  counted: PodSample[];
}

/** groupPods: which pods' samples count, which are unready (ignored on the way up), which have none. */
function groupPods(pods: readonly PodSample[], now: number): Grouped {
  const out: Grouped = { readyCount: 0, unready: [], missing: [], counted: [] };
  for (const pod of pods) {
    if (pod.deleting || pod.phase === 'Failed') continue; // ignored
    if (pod.phase === 'Pending') {
      out.unready.push(pod);
      continue;
    }
    if (!pod.usage) {
      out.missing.push(pod);
      continue;
    }
    let unready: boolean;
    if (pod.startedAt + CPU_INITIALIZATION_PERIOD_MS > now) {
      // Within the initialization period: unready, or no full window of samples since the Ready condition changed.
      unready = !pod.ready || pod.usage.at < pod.readyChangedAt + pod.usage.windowMs;
    } else {
      // Afterwards: only a pod that is unready and has never been ready is left out.
      unready = !pod.ready && pod.startedAt + INITIAL_READINESS_DELAY_MS > pod.readyChangedAt;
    }
    if (unready) {
      out.unready.push(pod);
      continue;
    }
    out.readyCount++;
    out.counted.push(pod);
  }
  return out;
}

/** GetResourceUtilizationRatio: total usage over total request, as an integer percent, and its ratio to the target. */
function utilizationOf(
  samples: readonly { milli: number; requestMilli: number }[],
  target: number,
): { ratio: number; utilization: number } {
  let usage = 0;
  let requests = 0;
  for (const s of samples) {
    usage += s.milli;
    requests += s.requestMilli;
  }
  if (requests === 0) throw new NoMetrics('no pod with a sample has a CPU request');
  const utilization = Math.trunc((usage * 100) / requests);
  return { ratio: utilization / target, utilization };
}

/**
 * GetResourceReplicas: the replicas a CPU `targetUtilization` (percent of request) asks for, given the scale's
 * `currentReplicas` and its pods. Within the tolerance nothing changes. On the way up, unready pods count as idle; pods
 * without a sample count as idle on the way up and as using their whole request on the way down; if that reverses
 * the direction or lands within the tolerance, nothing changes.
 */
export function cpuReplicas(
  currentReplicas: number,
  pods: readonly PodSample[],
  targetUtilization: number,
  now: number,
  tolerance = TOLERANCE,
): CpuRecommendation {
  const grouped = groupPods(pods, now);
  if (grouped.counted.length === 0)
    throw new NoMetrics(
      `no CPU sample for any ready pod yet (${grouped.unready.length} unready, ${grouped.missing.length} without a sample)`,
    );
  const samples = grouped.counted.map((p) => ({ milli: p.usage!.milli, requestMilli: p.requestMilli }));
  const { ratio, utilization } = utilizationOf(samples, targetUtilization);
  const result = (replicas: number): CpuRecommendation => ({
    replicas,
    utilization,
    counted: grouped.counted.length,
    unready: grouped.unready.length,
    missing: grouped.missing.length,
  });
  const scaleUpWithUnready = grouped.unready.length > 0 && ratio > 1;
  if (!scaleUpWithUnready && grouped.missing.length === 0) {
    if (Math.abs(1 - ratio) <= tolerance) return result(currentReplicas);
    return result(Math.ceil(ratio * grouped.readyCount));
  }
  const adjusted = [...samples];
  if (grouped.missing.length > 0) {
    if (ratio < 1) {
      // On the way down a pod without a sample is taken to use all of its request (or the target, if that is higher).
      const fallback = Math.max(100, targetUtilization);
      for (const p of grouped.missing) adjusted.push({ milli: (p.requestMilli * fallback) / 100, requestMilli: p.requestMilli });
    } else if (ratio > 1) {
      for (const p of grouped.missing) adjusted.push({ milli: 0, requestMilli: p.requestMilli });
    }
  }
  if (scaleUpWithUnready) for (const p of grouped.unready) adjusted.push({ milli: 0, requestMilli: p.requestMilli });
  const { ratio: newRatio } = utilizationOf(adjusted, targetUtilization);
  if (Math.abs(1 - newRatio) <= tolerance || (ratio < 1 && newRatio > 1) || (ratio > 1 && newRatio < 1)) return result(currentReplicas);
  const replicas = Math.ceil(newRatio * adjusted.length);
  if ((newRatio < 1 && replicas > currentReplicas) || (newRatio > 1 && replicas < currentReplicas)) return result(currentReplicas);
  return result(replicas);
}
