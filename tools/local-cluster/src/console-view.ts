import type { TopologyView } from '@strata/console';
import type { AutoscalerStatus } from '@strata/autoscaler';
import type { Supervisor } from './supervisor.js';

/** What the live page shows of the local cluster: the supervisor's desired and actual replicas and its events. */
export function supervisorView(
  supervisor: Supervisor,
  title: string,
  notes: () => string[] = () => [],
  autoscalers?: AutoscalerStatus[],
): TopologyView {
  return {
    title,
    services: supervisor.services().map((s) => ({
      name: s.service,
      layer: s.layer,
      desired: s.desired,
      ready: s.ready,
      current: s.current,
      revision: s.revision,
      updated: s.updated,
      rollout: s.rollout,
      autoscaler: autoscalers?.find((a) => a.reference === `Deployment/${s.service}`),
    })),
    replicas: supervisor.status().map((r) => ({
      id: r.id,
      service: r.service,
      layer: r.layer,
      state: r.state,
      address: r.address,
      pid: r.pid,
      restarts: r.restarts,
      revision: r.revision,
      metricsUrl: r.metricsUrl.startsWith('http') ? r.metricsUrl : undefined,
    })),
    events: supervisor.events(),
    notes: notes(),
  };
}
