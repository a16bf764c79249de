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

/** Renders and checks one overlay. Every overlay but local must carry the network policies. */
export function validateOverlay(overlay: string): OverlayReport {
  const dir = overlayDir(overlay);
  const objects = renderKustomization(dir);
  const problems = [
    ...checkObjects(objects, overlay !== 'local', undefined, RELEASED_OVERLAYS.includes(overlay)),
    ...undeclaredReplicas(dir, objects),
    ...(overlay.startsWith('production') ? productionProblems(objects) : []),
  ];
  return { overlay, objects, problems, notes: unvalidated(objects) };
}
