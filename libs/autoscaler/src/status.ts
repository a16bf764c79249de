import type { Autoscaler } from './hpa.js';
import type { Decision } from './controller.js';

/** What a runtime shows of one autoscaler: its declaration, the last sync and the last change it made. */
export interface AutoscalerStatus {
  name: string;
  /** "Deployment/recommendations" */
  reference: string;
  minReplicas: number;
  maxReplicas: number;
  targetUtilization: number;
  /** Average CPU of its pods in percent of request at the last sync; undefined: no metric (kubectl shows <unknown>). */
  currentUtilization?: number;
  /** Pods that exist (status.currentReplicas) and what the last sync set (status.desiredReplicas). */
  currentReplicas: number;
  desiredReplicas: number;
  /** When the autoscaler began (for AGE) and when it last changed the scale. */
  createdAt: string;
  lastScaleTime?: string;
  /** The last sync: its reason and sentence. */
  lastSync?: { at: string; reason: string; message: string };
  /** The last sync that changed the scale ("cpu 140% of request, target 70%: 2 → 4"). */
  lastScale?: { at: string; reason: string; message: string };
}

/** Keeps one autoscaler's status from its syncs. */
export function statusAfter(
  previous: AutoscalerStatus | undefined,
  spec: Autoscaler,
  decision: Decision,
  currentPods: number,
): AutoscalerStatus {
  const at = new Date(decision.at).toISOString();
  const sync = { at, reason: decision.reason, message: decision.message };
  const scaled = decision.desired !== decision.current;
  return {
    name: spec.name,
    reference: `Deployment/${spec.target}`,
    minReplicas: spec.minReplicas,
    maxReplicas: spec.maxReplicas,
    targetUtilization: spec.targetCpuUtilization,
    currentUtilization: decision.utilization,
    currentReplicas: currentPods,
    desiredReplicas: decision.desired,
    createdAt: previous?.createdAt ?? at,
    lastScaleTime: scaled ? at : previous?.lastScaleTime,
    lastSync: sync,
    lastScale: scaled ? sync : previous?.lastScale,
  };
}

/** "cpu: 140%/70%", or "cpu: <unknown>/70%" before the first sample, as `kubectl get hpa` prints TARGETS. */
export const targetsColumn = (s: AutoscalerStatus) =>
  `cpu: ${s.currentUtilization === undefined ? '<unknown>' : `${s.currentUtilization}%`}/${s.targetUtilization}%`;

/** A kubectl-style age: "45s", "3m12s", "2h5m". */
export function age(since: string, now = Date.now()): string {
  const s = Math.max(0, Math.floor((now - Date.parse(since)) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${s % 60 ? `${s % 60}s` : ''}`;
  return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m`;
}

/** The autoscalers as `kubectl get hpa` prints them (NAME REFERENCE TARGETS MINPODS MAXPODS REPLICAS AGE). */
export function hpaTable(statuses: readonly AutoscalerStatus[], now = Date.now()): string {
  const rows = [
    ['NAME', 'REFERENCE', 'TARGETS', 'MINPODS', 'MAXPODS', 'REPLICAS', 'AGE'],
    ...statuses.map((s) => [
      s.name,
      s.reference,
      targetsColumn(s),
      String(s.minReplicas),
      String(s.maxReplicas),
      String(s.currentReplicas),
      age(s.createdAt, now),
    ]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows
    .map((r) =>
      r
        .map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]! + 3)))
        .join('')
        .trimEnd(),
    )
    .join('\n');
}
