import type { ReconcileEvent, ReplicaStatus, ServiceStatus } from './supervisor.js';

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  return [header, ...rows]
    .map((row) =>
      row
        .map((cell, i) => cell.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/**
 * Desired against actual per service, like `kubectl get deploy`: DESIRED, READY (in the endpoints), CURRENT, UP-TO-DATE
 * (running the service's revision) and the REVISION new replicas start from ("-": the working tree's build).
 */
export function formatServicesTable(services: readonly ServiceStatus[]): string {
  return table(
    ['SERVICE', 'LAYER', 'DESIRED', 'READY', 'CURRENT', 'UP-TO-DATE', 'REVISION'],
    services.map((s) => [s.service, s.layer, String(s.desired), String(s.ready), String(s.current), String(s.updated), s.revision]),
  );
}

/** The rollouts in progress, worded as `kubectl rollout status` words them; empty when none is. */
export function formatRollouts(services: readonly ServiceStatus[]): string {
  return services
    .filter((s) => s.rollout)
    .map((s) => `Waiting for deployment "${s.service}" rollout to finish: ${s.rollout}`)
    .join('\n');
}

/** A plain-text table of the replicas: service, layer, replica, address, state, restarts, metrics. */
export function formatStatusTable(replicas: readonly ReplicaStatus[]): string {
  return table(
    // REVISION after STATE: the columns a reader (or a grep) knew stay side by side.
    ['SERVICE', 'LAYER', 'REPLICA', 'ADDRESS', 'STATE', 'REVISION', 'PID', 'RESTARTS', 'METRICS'],
    replicas.map((r) => [
      r.service,
      r.layer,
      r.id,
      r.address,
      r.state,
      r.revision,
      r.pid ? String(r.pid) : '-',
      String(r.restarts),
      r.metricsUrl,
    ]),
  );
}

/** The last reconcile actions, with their times (like the events of `kubectl describe deploy`). */
export function formatEvents(events: readonly ReconcileEvent[], last = 12): string {
  return table(
    ['TIME', 'SERVICE', 'EVENT'],
    // An event's first line: a failed build's compiler messages follow it where `up` runs.
    events.slice(-last).map((e) => [e.at.slice(11, 19), e.service, e.message.split('\n')[0]!]),
  );
}
