import { targetsColumn } from '@strata/autoscaler';
import { podStatus, type ClusterSnapshot } from './cluster.js';

const age = (from: string | number, now = Date.now()) => {
  const s = Math.max(0, Math.round((now - (typeof from === 'number' ? from : Date.parse(from))) / 1000));
  return s < 120 ? `${s}s` : s < 7200 ? `${Math.floor(s / 60)}m` : `${Math.floor(s / 3600)}h`;
};

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows
    .map((r) =>
      r
        .map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]! + 2)))
        .join('')
        .trimEnd(),
    )
    .join('\n');
}

/** What `kubectl get pods,deploy,sts,svc -A` and `kubectl get events` would show, from the runtime's state. */
export function statusTables(state: ClusterSnapshot, options: { events?: number } = {}): string {
  const now = Date.now();
  const pods = [['NAMESPACE', 'NAME', 'READY', 'STATUS', 'RESTARTS', 'AGE', 'IP']];
  for (const p of state.pods) {
    const ready = p.containers.filter((c) => c.ready).length;
    const restarts = p.containers.reduce((n, c) => n + c.restartCount, 0);
    pods.push([
      p.namespace,
      `pod/${p.name}`,
      `${ready}/${p.containers.length}`,
      podStatus(p),
      String(restarts),
      age(p.createdAt, now),
      p.ip ?? '<none>',
    ]);
  }
  const deploys = [['NAMESPACE', 'NAME', 'READY', 'UP-TO-DATE', 'AVAILABLE', 'ROLLOUT']];
  for (const d of state.deployments)
    deploys.push([d.namespace, `deployment.apps/${d.name}`, `${d.ready}/${d.replicas}`, String(d.updated), String(d.available), d.rollout]);
  const sets = [['NAMESPACE', 'NAME', 'READY', 'ROLLOUT']];
  for (const s of state.statefulSets) sets.push([s.namespace, `statefulset.apps/${s.name}`, `${s.ready}/${s.replicas}`, s.rollout]);
  const services = [['NAMESPACE', 'NAME', 'TYPE', 'CLUSTER-IP', 'PORT(S)', 'ENDPOINTS']];
  for (const s of state.services)
    services.push([
      s.namespace,
      `service/${s.name}`,
      s.type,
      s.clusterIP,
      s.ports.map((p) => `${p.port}${p.nodePort ? `:${p.nodePort}` : ''}/TCP`).join(','),
      s.endpoints.join(',') || '<none>',
    ]);
  const hpas = [['NAMESPACE', 'NAME', 'REFERENCE', 'TARGETS', 'MINPODS', 'MAXPODS', 'REPLICAS', 'AGE']];
  for (const h of state.autoscalers ?? [])
    hpas.push([
      h.namespace,
      `horizontalpodautoscaler.autoscaling/${h.name}`,
      h.reference,
      targetsColumn(h),
      String(h.minReplicas),
      String(h.maxReplicas),
      String(h.currentReplicas),
      age(h.createdAt, now),
    ]);
  const events = [['LAST SEEN', 'TYPE', 'REASON', 'OBJECT', 'MESSAGE']];
  for (const e of state.events.slice(-(options.events ?? 15)))
    events.push([`${age(e.lastAt, now)}${e.count > 1 ? ` (x${e.count})` : ''}`, e.type, e.reason, `${e.namespace}/${e.object}`, e.message]);
  return [
    table(pods),
    table(deploys),
    ...(state.statefulSets.length ? [table(sets)] : []),
    table(services),
    ...(hpas.length > 1 ? [table(hpas)] : []),
    table(events),
  ].join('\n\n');
}
