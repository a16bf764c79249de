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

/** Desired against actual per service, like `kubectl get deploy`: DESIRED, READY (in the endpoints), CURRENT. */
export function formatServicesTable(services: readonly ServiceStatus[]): string {
  return table(
    ['SERVICE', 'LAYER', 'DESIRED', 'READY', 'CURRENT'],
    services.map((s) => [s.service, s.layer, String(s.desired), String(s.ready), String(s.current)]),
  );
}

/** A plain-text table of the replicas: service, layer, replica, address, state, restarts, metrics. */
export function formatStatusTable(replicas: readonly ReplicaStatus[]): string {
  return table(
    ['SERVICE', 'LAYER', 'REPLICA', 'ADDRESS', 'STATE', 'PID', 'RESTARTS', 'METRICS'],
    replicas.map((r) => [r.service, r.layer, r.id, r.address, r.state, r.pid ? String(r.pid) : '-', String(r.restarts), r.metricsUrl]),
  );
}

/** The last reconcile actions, with their times (like the events of `kubectl describe deploy`). */
export function formatEvents(events: readonly ReconcileEvent[], last = 12): string {
  return table(
    ['TIME', 'SERVICE', 'EVENT'],
    events.slice(-last).map((e) => [e.at.slice(11, 19), e.service, e.message]),
  );
}
