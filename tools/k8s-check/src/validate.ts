import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parse } from 'yaml';
import { loadServices, type ServiceRegistry } from '@strata/service-registry';
import { addressProblems } from './addresses.js';
import { declarationProblems } from './declarations.js';
import { policyViolations } from './policies.js';
import { RELEASED_OVERLAYS, REPO_ROOT, overlayDir, renderKustomization, type K8sObject } from './render.js';
import { schemaProblems, unvalidated } from './schema.js';

export interface OverlayReport {
  overlay: string;
  objects: K8sObject[];
  problems: string[];
  /** What could not be checked here, and why. */
  notes: string[];
}

/** The node `minikube start --cpus=6` makes, less what its system pods request (about 1.1 CPU; not measured here). */
export const MINIKUBE_SCHEDULABLE_MILLICPU = 6_000 - 1_100;

const milli = (q: string | undefined) => (!q ? 0 : q.endsWith('m') ? Number(q.slice(0, -1)) : Number(q) * 1000);

/**
 * A minikube overlay must fit its node when every autoscaler is at its maximum: replicas past the node's room stay
 * Pending, and the HPA reports it is scaling while nothing more serves.
 */
export function minikubeFitProblems(objects: readonly K8sObject[], schedulable = MINIKUBE_SCHEDULABLE_MILLICPU): string[] {
  let total = 0;
  const parts: string[] = [];
  for (const w of objects.filter((o) => o.kind === 'Deployment' || o.kind === 'StatefulSet')) {
    const hpa = objects.find((o) => o.kind === 'HorizontalPodAutoscaler' && o.spec?.scaleTargetRef?.name === w.metadata.name);
    const replicas: number = hpa?.spec?.maxReplicas ?? w.spec?.replicas ?? 1;
    const request = ((w.spec?.template?.spec?.containers ?? []) as { resources?: { requests?: { cpu?: string } } }[]).reduce(
      (n, c) => n + milli(c.resources?.requests?.cpu),
      0,
    );
    total += replicas * request;
    parts.push(`${w.metadata.name} ${replicas}×${request}m`);
  }
  return total > schedulable
    ? [
        `at every autoscaler's maximum the pods request ${total}m CPU (${parts.join(', ')}), more than the ${schedulable}m a \`minikube start --cpus=6\` node can schedule: lower maxReplicas in the overlay`,
      ]
    : [];
}

/**
 * A production overlay spreads each layer over nodes (a node failing takes a share of a layer, never the layer), and runs
 * at least two replicas of every layer (the PodDisruptionBudgets, maxUnavailable 1, then never drain one to zero).
 */
export function productionProblems(objects: readonly K8sObject[]): string[] {
  const problems: string[] = [];
  for (const d of objects.filter((o) => o.kind === 'Deployment' && o.metadata.labels?.['app.kubernetes.io/part-of'] === 'strata')) {
    const spread = (d.spec?.template?.spec?.topologySpreadConstraints ?? []) as { topologyKey: string }[];
    if (!spread.some((c) => c.topologyKey === 'kubernetes.io/hostname'))
      problems.push(
        `Deployment/${d.metadata.name}: production spreads replicas over nodes (topologySpreadConstraints on kubernetes.io/hostname)`,
      );
    if ((d.spec?.replicas ?? 1) < 2) problems.push(`Deployment/${d.metadata.name}: production runs at least 2 replicas of every layer`);
  }
  return problems;
}

/** The replicas an overlay declares: its own `replicas:` and those of the overlays it builds on (`resources: [../minikube]`). */
function declaredReplicas(overlayPath: string): Set<string> {
  const kustomization = parse(readFileSync(join(overlayPath, 'kustomization.yaml'), 'utf8')) as {
    replicas?: { name: string }[];
    resources?: string[];
  };
  const names = new Set((kustomization.replicas ?? []).map((r) => r.name));
  for (const resource of kustomization.resources ?? []) {
    const dir = join(overlayPath, resource);
    if (dirname(dir) === dirname(overlayPath)) for (const name of declaredReplicas(dir)) names.add(name);
  }
  return names;
}

/** Every Strata Deployment (the observability component's aside) must have its replicas declared in the overlay's `replicas:` field (or its base overlay's). */
export function undeclaredReplicas(overlayPath: string, objects: readonly K8sObject[]): string[] {
  const declared = declaredReplicas(overlayPath);
  return objects
    .filter(
      (o) => o.kind === 'Deployment' && o.metadata.labels?.['app.kubernetes.io/part-of'] === 'strata' && !declared.has(o.metadata.name),
    )
    .map((o) => `Deployment/${o.metadata.name}: replicas not declared in the overlay's replicas: field`);
}

/** Schema and policy problems of a set of rendered objects. */
export function checkObjects(
  objects: readonly K8sObject[],
  requireNetworkPolicies: boolean,
  registry: ServiceRegistry = loadServices(REPO_ROOT),
  requireImmutableImages = false,
): string[] {
  return [
    ...objects.flatMap((o) => schemaProblems(o)),
    ...policyViolations(objects, { requireNetworkPolicies, requireImmutableImages }),
    ...declarationProblems(objects, registry, requireNetworkPolicies),
    ...addressProblems(objects),
  ];
}

/** Renders and checks one overlay. Every overlay but the local ones (npm start's processes) must carry the network policies. */
export function validateOverlay(overlay: string): OverlayReport {
  const dir = overlayDir(overlay);
  const objects = renderKustomization(dir);
  const problems = [
    ...checkObjects(objects, !overlay.startsWith('local'), undefined, RELEASED_OVERLAYS.includes(overlay)),
    ...undeclaredReplicas(dir, objects),
    ...(overlay.startsWith('production') ? productionProblems(objects) : []),
    ...(overlay.startsWith('minikube') ? minikubeFitProblems(objects) : []),
  ];
  return { overlay, objects, problems, notes: unvalidated(objects) };
}
