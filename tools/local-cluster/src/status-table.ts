import type { ReplicaStatus } from './supervisor.js';

/** A plain-text table of the replicas: service, layer, replica, address, state, restarts, metrics. */
export function formatStatusTable(replicas: readonly ReplicaStatus[]): string {
  const header = ['SERVICE', 'LAYER', 'REPLICA', 'ADDRESS', 'STATE', 'PID', 'RESTARTS', 'METRICS'];
  const rows = replicas.map((r) => [
    r.service,
    r.layer,
    r.id,
    r.address,
    r.state,
    r.pid ? String(r.pid) : '-',
    String(r.restarts),
    r.metricsUrl,
  ]);
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
