import { createHash } from 'node:crypto';
import type { Pod } from './kubelet.js';
import { scaledValue, type KubeObject, type PodTemplate } from './objects.js';

/** A ReplicaSet: one revision of a Deployment's pod template, with the count the Deployment gives it. */
export interface ReplicaSet {
  namespace: string;
  name: string;
  deployment: string;
  hash: string;
  template: PodTemplate;
  replicas: number;
  revision: number;
}

/** What the controllers do to the cluster: the pods they see, and the two things they may do to them. */
export interface ControllerHost {
  pods(namespace: string): Pod[];
  createPod(request: {
    namespace: string;
    name: string;
    template: PodTemplate;
    owner: NonNullable<Pod['owner']>;
    labels: Record<string, string>;
    hostname?: string;
    subdomain?: string;
    claims?: Record<string, string>;
  }): void;
  deletePod(pod: Pod, reason: string): void;
  event(object: string, namespace: string, type: 'Normal' | 'Warning', reason: string, message: string): void;
}

/** A stable hash of a pod template (the pod-template-hash label's role). */
export function templateHash(template: unknown): string {
  return createHash('sha256').update(stableJson(template)).digest('hex').slice(0, 10);
}

function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value && typeof value === 'object')
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableJson((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  return JSON.stringify(value);
}

const suffix = () => Math.random().toString(36).slice(2, 7).padEnd(5, 'x');
const live = (p: Pod) => !p.deleting;

/** Ready for at least minReadySeconds (the Deployment's "available"). */
export const available = (p: Pod, minReadySeconds: number, now = Date.now()) =>
  live(p) && p.ready && p.readySince !== undefined && now - p.readySince >= minReadySeconds * 1000;

/**
 * The order in which a ReplicaSet gives up pods, as the ReplicaSet controller ranks them: not yet running before
 * running, not ready before ready, the most recently created first.
 */
function deletionOrder(a: Pod, b: Pod): number {
  const rank = (p: Pod) => (p.phase !== 'Running' ? 0 : !p.ready ? 1 : 2);
  return rank(a) - rank(b) || b.createdAt - a.createdAt;
}

/** Keeps a ReplicaSet's pods at its count. */
export function syncReplicaSet(rs: ReplicaSet, host: ControllerHost): void {
  const pods = host.pods(rs.namespace).filter((p) => p.owner?.kind === 'ReplicaSet' && p.owner.name === rs.name);
  const current = pods.filter(live);
  for (let k = current.length; k < rs.replicas; k++) {
    const name = `${rs.name}-${suffix()}`;
    host.createPod({
      namespace: rs.namespace,
      name,
      template: rs.template,
      owner: { kind: 'ReplicaSet', name: rs.name },
      labels: { ...(rs.template.metadata?.labels ?? {}), 'pod-template-hash': rs.hash },
    });
    host.event(`replicaset/${rs.name}`, rs.namespace, 'Normal', 'SuccessfulCreate', `Created pod: ${name}`);
  }
  if (current.length > rs.replicas) {
    for (const victim of [...current].sort(deletionOrder).slice(0, current.length - rs.replicas)) {
      host.deletePod(victim, `scaled down ${rs.name} to ${rs.replicas}`);
      host.event(`replicaset/${rs.name}`, rs.namespace, 'Normal', 'SuccessfulDelete', `Deleted pod: ${victim.name}`);
    }
  }
}

export interface DeploymentStatus {
  replicas: number;
  updated: number;
  ready: number;
  available: number;
  /** What `kubectl rollout status` would print, and whether it is done. */
  rollout: { done: boolean; message: string };
}

/**
 * The Deployment controller: one ReplicaSet per pod template; a changed template rolls per the declared strategy.
 * RollingUpdate keeps at most replicas + maxSurge pods and at least replicas − maxUnavailable available (ready for
 * minReadySeconds) at every step; Recreate removes every old pod before the new ones start.
 */
export class DeploymentController {
  private readonly sets = new Map<string, ReplicaSet[]>();

  replicaSets(namespace: string, name: string): ReplicaSet[] {
    return this.sets.get(`${namespace}/${name}`) ?? [];
  }

  forget(namespace: string, name: string): ReplicaSet[] {
    const sets = this.replicaSets(namespace, name);
    this.sets.delete(`${namespace}/${name}`);
    return sets;
  }

  sync(deployment: KubeObject, host: ControllerHost): void {
    const ns = deployment.metadata.namespace ?? 'default';
    const name = deployment.metadata.name;
    const key = `${ns}/${name}`;
    const spec = deployment.spec;
    const replicas: number = spec.replicas ?? 1;
    const minReady: number = spec.minReadySeconds ?? 0;
    const template: PodTemplate = spec.template;
    const hash = templateHash(template);
    const sets = this.sets.get(key) ?? [];
    this.sets.set(key, sets);
    let current = sets.find((rs) => rs.hash === hash);
    const olds = () => sets.filter((rs) => rs !== current);
    const podsOf = (rs: ReplicaSet) => host.pods(ns).filter((p) => p.owner?.kind === 'ReplicaSet' && p.owner.name === rs.name);
    if (!current) {
      const revision = Math.max(0, ...sets.map((s) => s.revision)) + 1;
      current = { namespace: ns, name: `${name}-${hash}`, deployment: name, hash, template, replicas: 0, revision };
      sets.push(current);
      host.event(`deployment/${name}`, ns, 'Normal', 'ScalingReplicaSet', `Created replica set ${current.name} (revision ${revision})`);
      if (olds().every((rs) => rs.replicas === 0)) current.replicas = replicas;
    }
    const setCount = (rs: ReplicaSet, count: number) => {
      if (rs.replicas === count) return;
      host.event(
        `deployment/${name}`,
        ns,
        'Normal',
        'ScalingReplicaSet',
        `Scaled ${count > rs.replicas ? 'up' : 'down'} replica set ${rs.name} from ${rs.replicas} to ${count}`,
      );
      rs.replicas = count;
    };

    if (olds().every((rs) => rs.replicas === 0 && podsOf(rs).length === 0)) {
      setCount(current, replicas);
    } else if (spec.strategy?.type === 'Recreate') {
      for (const rs of olds()) setCount(rs, 0);
      if (olds().every((rs) => podsOf(rs).length === 0)) setCount(current, replicas);
    } else {
      const surge = scaledValue(spec.strategy?.rollingUpdate?.maxSurge, replicas, '25%', true);
      const unavailable = scaledValue(spec.strategy?.rollingUpdate?.maxUnavailable, replicas, '25%', false);
      const maxUnavailable = surge === 0 && unavailable === 0 ? 1 : unavailable;
      // Scale the new ReplicaSet up as far as the surge allows.
      const total = sets.reduce((n, rs) => n + rs.replicas, 0);
      if (current.replicas < replicas) setCount(current, Math.min(replicas, current.replicas + Math.max(0, replicas + surge - total)));
      // Old pods that are not available go first: removing them costs no availability.
      for (const rs of olds()) {
        const unhealthy = podsOf(rs).filter((p) => live(p) && !available(p, minReady)).length;
        if (unhealthy > 0 && rs.replicas > 0) setCount(rs, Math.max(0, rs.replicas - unhealthy));
      }
      // Then as many available old pods as the floor (replicas − maxUnavailable) allows.
      const availableNow = sets.flatMap(podsOf).filter((p) => available(p, minReady)).length;
      let budget = availableNow - (replicas - maxUnavailable);
      for (const rs of olds()) {
        if (budget <= 0) break;
        const down = Math.min(budget, rs.replicas);
        if (down > 0) {
          setCount(rs, rs.replicas - down);
          budget -= down;
        }
      }
      if (current.replicas > replicas) setCount(current, replicas);
    }
    for (const rs of sets) syncReplicaSet(rs, host);
    // Old ReplicaSets beyond revisionHistoryLimit go once they are empty.
    const limit: number = spec.revisionHistoryLimit ?? 10;
    const empty = olds()
      .filter((rs) => rs.replicas === 0 && podsOf(rs).length === 0)
      .sort((a, b) => a.revision - b.revision);
    for (const rs of empty.slice(0, Math.max(0, empty.length - limit))) sets.splice(sets.indexOf(rs), 1);
  }

  status(deployment: KubeObject, host: ControllerHost): DeploymentStatus {
    const ns = deployment.metadata.namespace ?? 'default';
    const name = deployment.metadata.name;
    const replicas: number = deployment.spec.replicas ?? 1;
    const minReady: number = deployment.spec.minReadySeconds ?? 0;
    const hash = templateHash(deployment.spec.template);
    const sets = this.replicaSets(ns, name);
    const mine = host.pods(ns).filter((p) => p.owner?.kind === 'ReplicaSet' && sets.some((rs) => rs.name === p.owner!.name) && live(p));
    const updated = mine.filter((p) => p.owner!.name === `${name}-${hash}`);
    const status = {
      replicas: mine.length,
      updated: updated.length,
      ready: mine.filter((p) => p.ready).length,
      available: mine.filter((p) => available(p, minReady)).length,
    };
    const message =
      status.updated < replicas
        ? `Waiting for deployment "${name}" rollout to finish: ${status.updated} out of ${replicas} new replicas have been updated...`
        : status.replicas > status.updated
          ? `Waiting for deployment "${name}" rollout to finish: ${status.replicas - status.updated} old replicas are pending termination...`
          : status.available < status.updated
            ? `Waiting for deployment "${name}" rollout to finish: ${status.available} of ${status.updated} updated replicas are available...`
            : `deployment "${name}" successfully rolled out`;
    return { ...status, rollout: { done: message.endsWith('successfully rolled out'), message } };
  }
}

export interface StatefulSetStatus {
  replicas: number;
  ready: number;
  updated: number;
  rollout: { done: boolean; message: string };
}

/**
 * The StatefulSet controller: pods `<name>-0 … <name>-(n−1)` with stable names and hostnames under the governing
 * Service, one claim per volumeClaimTemplate per pod that outlives it; OrderedReady creates each pod only when every
 * lower one is ready, removes from the highest down; RollingUpdate replaces pods from the highest ordinal down to the
 * partition, one at a time, each only when all others are ready.
 */
export class StatefulSetController {
  sync(set: KubeObject, host: ControllerHost): void {
    const ns = set.metadata.namespace ?? 'default';
    const name = set.metadata.name;
    const spec = set.spec;
    const replicas: number = spec.replicas ?? 1;
    const ordered = (spec.podManagementPolicy ?? 'OrderedReady') === 'OrderedReady';
    const revision = templateHash(spec.template);
    const pods = host.pods(ns).filter((p) => p.owner?.kind === 'StatefulSet' && p.owner.name === name);
    const byOrdinal = new Map(pods.map((p) => [Number(p.name.slice(name.length + 1)), p]));
    const healthy = (p: Pod | undefined) => p !== undefined && live(p) && p.ready;
    // Scale down: highest first, one at a time when ordered.
    const extra = pods.filter((p) => Number(p.name.slice(name.length + 1)) >= replicas);
    if (extra.some((p) => p.deleting) && ordered) return;
    const highest = extra.filter(live).sort((a, b) => Number(b.name.slice(name.length + 1)) - Number(a.name.slice(name.length + 1)));
    for (const p of ordered ? highest.slice(0, 1) : highest) host.deletePod(p, `scaled ${name} down to ${replicas}`);
    if (ordered && highest.length > 0) return;
    // Create missing ordinals (ordered: only when every lower one is ready).
    for (let i = 0; i < replicas; i++) {
      const existing = byOrdinal.get(i);
      if (existing) {
        if (ordered && !healthy(existing)) return;
        continue;
      }
      const podName = `${name}-${i}`;
      const claims = Object.fromEntries(
        ((spec.volumeClaimTemplates ?? []) as { metadata: { name: string } }[]).map((t) => [
          t.metadata.name,
          `${t.metadata.name}-${podName}`,
        ]),
      );
      host.createPod({
        namespace: ns,
        name: podName,
        template: spec.template,
        owner: { kind: 'StatefulSet', name },
        labels: {
          ...(spec.template.metadata?.labels ?? {}),
          'controller-revision-hash': `${name}-${revision}`,
          'statefulset.kubernetes.io/pod-name': podName,
          'apps.kubernetes.io/pod-index': String(i),
        },
        hostname: podName,
        subdomain: spec.serviceName,
        claims,
      });
      host.event(`statefulset/${name}`, ns, 'Normal', 'SuccessfulCreate', `create Pod ${podName} in StatefulSet ${name} successful`);
      if (ordered) return;
    }
    // Rolling update: the highest ordinal on an old revision, when every pod is ready.
    if ((spec.updateStrategy?.type ?? 'RollingUpdate') !== 'RollingUpdate') return;
    const partition: number = spec.updateStrategy?.rollingUpdate?.partition ?? 0;
    if (![...byOrdinal.values()].every(healthy)) return;
    for (let i = replicas - 1; i >= partition; i--) {
      const p = byOrdinal.get(i);
      if (p && p.labels['controller-revision-hash'] !== `${name}-${revision}`) {
        host.deletePod(p, `updating ${name} to revision ${revision}`);
        return;
      }
    }
  }

  status(set: KubeObject, host: ControllerHost): StatefulSetStatus {
    const ns = set.metadata.namespace ?? 'default';
    const name = set.metadata.name;
    const replicas: number = set.spec.replicas ?? 1;
    const revision = `${name}-${templateHash(set.spec.template)}`;
    const pods = host.pods(ns).filter((p) => p.owner?.kind === 'StatefulSet' && p.owner.name === name && live(p));
    const ready = pods.filter((p) => p.ready).length;
    const updated = pods.filter((p) => p.labels['controller-revision-hash'] === revision).length;
    const done = ready === replicas && updated === replicas && pods.length === replicas;
    return {
      replicas: pods.length,
      ready,
      updated,
      rollout: {
        done,
        message: done
          ? `partitioned roll out complete: ${replicas} new pods have been updated...`
          : `Waiting for ${replicas - ready} pods to be ready...`,
      },
    };
  }
}
