import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';

/** What the local run needs to know of one Deployment, after the overlay is applied. */
export interface DeploymentSpec {
  name: string;
  /** `app.kubernetes.io/component`: edge, composite, leaf. */
  layer: string;
  replicas: number;
  /** The first container's env entries that have a plain value (valueFrom entries need a cluster). */
  env: Record<string, string>;
  /** Container ports by name ("grpc", "metrics", "http"). */
  ports: Record<string, number>;
}

interface Kustomization {
  resources?: string[];
  components?: string[];
  replicas?: { name: string; count: number }[];
  labels?: { pairs: Record<string, string> }[];
}

interface K8sObject {
  kind?: string;
  metadata?: { name?: string; labels?: Record<string, string> };
  spec?: {
    replicas?: number;
    template?: {
      metadata?: { labels?: Record<string, string> };
      spec?: { containers?: { env?: { name: string; value?: string }[]; ports?: { name?: string; containerPort: number }[] }[] };
    };
  };
}

/**
 * Reads the Deployments of a Kustomize overlay without kubectl: follows `resources` (files and folders),
 * applies `labels` and the overlay's `replicas:`. Only that subset of Kustomize is understood, which is all
 * Strata's overlays use for Deployments; a test checks the result against `kubectl kustomize`.
 */
export function readOverlayDeployments(overlayDir: string): DeploymentSpec[] {
  const deployments = new Map<string, DeploymentSpec>();
  visitKustomization(resolve(overlayDir), {}, deployments);
  const overlay = readKustomization(resolve(overlayDir));
  for (const { name, count } of overlay.replicas ?? []) {
    const deployment = deployments.get(name);
    if (!deployment) throw new Error(`${overlayDir}: replicas names '${name}', which is no Deployment of the base`);
    deployment.replicas = count;
  }
  return [...deployments.values()].sort((a, b) => a.name.localeCompare(b.name));
}

/** The kustomization file of an overlay or base folder. */
export function kustomizationFile(dir: string): string {
  const file = ['kustomization.yaml', 'kustomization.yml', 'Kustomization'].map((f) => join(dir, f)).find((f) => existsSync(f));
  if (!file) throw new Error(`${dir}: no kustomization.yaml`);
  return file;
}

function readKustomization(dir: string): Kustomization {
  const file = kustomizationFile(dir);
  const [document] = parseAllDocuments(readFileSync(file, 'utf8'));
  const problem = document?.errors[0];
  if (problem) throw new Error(`${file}: not valid YAML (${problem.message.split('\n')[0]})`);
  return (document?.toJS() ?? {}) as Kustomization;
}

/**
 * The replicas an overlay declares, per Deployment — checked: every entry names a Deployment of the base and has a
 * whole count from 0 to `max`. Throws one error that says what is wrong, so a bad edit can be refused as a whole.
 */
export function readDesiredReplicas(overlayDir: string, max: number): Map<string, number> {
  const overlay = readKustomization(resolve(overlayDir));
  for (const entry of overlay.replicas ?? []) {
    const count = (entry as { count?: unknown }).count;
    if (typeof count !== 'number' || !Number.isInteger(count) || count < 0)
      throw new Error(`replicas of ${entry.name}: count must be a whole number ≥ 0, got ${JSON.stringify(count)}`);
    if (count > max)
      throw new Error(`replicas of ${entry.name}: ${count} is more than this machine runs locally (at most ${max} per service)`);
  }
  return new Map(readOverlayDeployments(overlayDir).map((d) => [d.name, d.replicas]));
}

function visitKustomization(dir: string, inheritedLabels: Record<string, string>, out: Map<string, DeploymentSpec>): void {
  const kustomization = readKustomization(dir);
  const labels = { ...inheritedLabels, ...Object.assign({}, ...(kustomization.labels ?? []).map((l) => l.pairs)) };
  for (const entry of kustomization.resources ?? []) {
    const path = resolve(dir, entry);
    if (statSync(path).isDirectory()) {
      visitKustomization(path, labels, out);
      continue;
    }
    for (const document of parseAllDocuments(readFileSync(path, 'utf8'))) {
      const object = document.toJS() as K8sObject | null;
      if (object?.kind !== 'Deployment' || !object.metadata?.name) continue;
      const container = object.spec?.template?.spec?.containers?.[0];
      const allLabels = { ...labels, ...object.metadata.labels, ...object.spec?.template?.metadata?.labels };
      out.set(object.metadata.name, {
        name: object.metadata.name,
        layer: allLabels['app.kubernetes.io/component'] ?? 'unknown',
        replicas: object.spec?.replicas ?? 1,
        env: Object.fromEntries((container?.env ?? []).filter((e) => e.value !== undefined).map((e) => [e.name, String(e.value)])),
        ports: Object.fromEntries((container?.ports ?? []).map((p) => [p.name ?? String(p.containerPort), p.containerPort])),
      });
    }
  }
}
