import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { loadServices, type ServiceRegistry } from '@strata/service-registry';
import { declarationProblems } from './declarations.js';
import { policyViolations } from './policies.js';
import { REPO_ROOT, overlayDir, renderKustomization, type K8sObject } from './render.js';
import { schemaProblems } from './schema.js';

export interface OverlayReport {
  overlay: string;
  objects: K8sObject[];
  problems: string[];
}

/** Every Deployment must have its replicas declared in the overlay's own `replicas:` field. */
export function undeclaredReplicas(overlayPath: string, objects: readonly K8sObject[]): string[] {
  const kustomization = parse(readFileSync(join(overlayPath, 'kustomization.yaml'), 'utf8')) as { replicas?: { name: string }[] };
  const declared = new Set((kustomization.replicas ?? []).map((r) => r.name));
  return objects
    .filter((o) => o.kind === 'Deployment' && !declared.has(o.metadata.name))
    .map((o) => `Deployment/${o.metadata.name}: replicas not declared in the overlay's replicas: field`);
}

/** Schema and policy problems of a set of rendered objects. */
export function checkObjects(
  objects: readonly K8sObject[],
  requireNetworkPolicies: boolean,
  registry: ServiceRegistry = loadServices(REPO_ROOT),
): string[] {
  return [
    ...objects.flatMap(schemaProblems),
    ...policyViolations(objects, { requireNetworkPolicies }),
    ...declarationProblems(objects, registry, requireNetworkPolicies),
  ];
}

/** Renders and checks one overlay. Every overlay but local must carry the network policies. */
export function validateOverlay(overlay: string): OverlayReport {
  const dir = overlayDir(overlay);
  const objects = renderKustomization(dir);
  return { overlay, objects, problems: [...checkObjects(objects, overlay !== 'local'), ...undeclaredReplicas(dir, objects)] };
}
