import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import jsonpatch, { type Operation } from 'fast-json-patch';
import { parse, parseAllDocuments } from 'yaml';

/** What a Deployment of Strata's manifests says of its service (ports, resources, probes, env), overlay applied. */
export interface DeploymentSpec {
  name: string;
  /** `app.kubernetes.io/component`: edge, composite, leaf. */
  layer: string;
  replicas: number;
  /** The first container's env entries that have a plain value (valueFrom entries need a cluster). */
  env: Record<string, string>;
  /** Container ports by name ("grpc", "metrics", "http"). */
  ports: Record<string, number>;
  /** The gRPC service its readiness probe asks for (a gRPC service's contract); none for the edge. */
  readinessService?: string;
  /** The first container's resources, as written ("250m", "160Mi"). */
  resources: { requests: Quantities; limits: Quantities };
}

export interface Quantities {
  cpu?: string;
  memory?: string;
}

export interface Kustomization {
  resources?: string[];
  components?: string[];
  patches?: { target?: { kind?: string; name?: string; labelSelector?: string }; patch?: string; path?: string }[];
  replicas?: { name: string; count: number }[];
  labels?: { pairs: Record<string, string> }[];
}

interface Container {
  env?: { name: string; value?: string }[];
  ports?: { name?: string; containerPort: number }[];
  readinessProbe?: { grpc?: { service?: string } };
  resources?: { requests?: Quantities; limits?: Quantities };
}

interface K8sObject {
  kind?: string;
  metadata?: { name?: string; labels?: Record<string, string> };
  spec?: {
    replicas?: number;
    template?: { metadata?: { labels?: Record<string, string> }; spec?: { containers?: Container[] } };
  };
}

/**
 * Reads the Deployments of a Kustomize overlay without kubectl (`npm start` needs only Node): follows `resources`
 * (files and folders), applies the JSON patches (RFC 6902, with fast-json-patch) of `components` and `patches` that
 * target Deployments, `labels`, and `replicas:`. Strategic-merge patches and `replacements:` are not applied: in the
 * folders read this way (k8s/base, the local overlay) they touch nothing read here (rollout strategy, pod security,
 * annotations). Only that subset of Kustomize is understood; a test checks the result against `kubectl kustomize` for
 * the local and the minikube-observability overlays.
 */
export function readOverlayDeployments(overlayDir: string): DeploymentSpec[] {
  const deployments = new Map<string, DeploymentSpec>();
  for (const { object, labels } of collect(resolve(overlayDir))) {
    if (object.kind !== 'Deployment' || !object.metadata?.name) continue;
    const container = object.spec?.template?.spec?.containers?.[0];
    const allLabels = { ...labels, ...object.metadata.labels, ...object.spec?.template?.metadata?.labels };
    deployments.set(object.metadata.name, {
      name: object.metadata.name,
      layer: allLabels['app.kubernetes.io/component'] ?? 'unknown',
      replicas: object.spec?.replicas ?? 1,
      env: Object.fromEntries((container?.env ?? []).filter((e) => e.value !== undefined).map((e) => [e.name, String(e.value)])),
      ports: Object.fromEntries((container?.ports ?? []).map((p) => [p.name ?? String(p.containerPort), p.containerPort])),
      readinessService: container?.readinessProbe?.grpc?.service,
      resources: { requests: { ...container?.resources?.requests }, limits: { ...container?.resources?.limits } },
    });
  }
  return [...deployments.values()].sort((a, b) => a.name.localeCompare(b.name));
}

/** The kustomization file of an overlay or base folder. */
export function kustomizationFile(dir: string): string {
  const file = ['kustomization.yaml', 'kustomization.yml', 'Kustomization'].map((f) => join(dir, f)).find((f) => existsSync(f));
  if (!file) throw new Error(`${dir}: no kustomization.yaml`);
  return file;
}

/** The kustomization of an overlay, base or component folder, parsed (not applied). */
export function readKustomization(dir: string): Kustomization {
  const file = kustomizationFile(dir);
  const [document] = parseAllDocuments(readFileSync(file, 'utf8'));
  const problem = document?.errors[0];
  if (problem) throw new Error(`${file}: not valid YAML (${problem.message.split('\n')[0]})`);
  return (document?.toJS() ?? {}) as Kustomization;
}

/** The objects of a kustomization (or component) folder, with the labels its kustomizations add. */
function collect(dir: string): { object: K8sObject; labels: Record<string, string> }[] {
  const kustomization = readKustomization(dir);
  const own = Object.assign({}, ...(kustomization.labels ?? []).map((l) => l.pairs)) as Record<string, string>;
  const out: { object: K8sObject; labels: Record<string, string> }[] = [];
  for (const entry of kustomization.resources ?? []) {
    const path = resolve(dir, entry);
    if (statSync(path).isDirectory()) {
      out.push(...collect(path));
      continue;
    }
    for (const document of parseAllDocuments(readFileSync(path, 'utf8'))) {
      const object = document.toJS() as K8sObject | null;
      if (object) out.push({ object, labels: {} });
    }
  }
  // As Kustomize orders them: the resources, then each component's patches, then the kustomization's own.
  for (const component of kustomization.components ?? []) applyPatches(out, resolve(dir, component));
  applyPatches(out, dir, kustomization);
  for (const item of out) item.labels = { ...own, ...item.labels };
  for (const { name, count } of kustomization.replicas ?? []) {
    const deployment = out.find(({ object }) => object.kind === 'Deployment' && object.metadata?.name === name);
    if (!deployment) throw new Error(`${dir}: replicas names '${name}', which is no Deployment of the base`);
    deployment.object.spec = { ...deployment.object.spec, replicas: count };
  }
  return out;
}

/** Applies the JSON patches of the kustomization in `dir` to the Deployments they target. */
function applyPatches(
  objects: { object: K8sObject; labels: Record<string, string> }[],
  dir: string,
  kustomization = readKustomization(dir),
): void {
  for (const entry of kustomization.patches ?? []) {
    if (entry.target?.kind !== 'Deployment') continue;
    const text = entry.patch ?? readFileSync(resolve(dir, entry.path ?? ''), 'utf8');
    const operations = parse(text) as unknown;
    if (!Array.isArray(operations)) continue; // a strategic-merge patch (see readOverlayDeployments)
    const name = entry.target.name === undefined ? undefined : new RegExp(`^(?:${entry.target.name})$`);
    const selected = labelMatcher(entry.target.labelSelector, dir);
    for (const { object, labels } of objects) {
      if (object.kind !== 'Deployment' || (name && !name.test(object.metadata?.name ?? ''))) continue;
      if (!selected({ ...labels, ...object.metadata?.labels })) continue;
      try {
        jsonpatch.applyPatch(object, operations as Operation[], true, true);
      } catch (error) {
        throw new Error(
          `${kustomizationFile(dir)}: a patch does not apply to Deployment ${object.metadata?.name}: ${(error as Error).message.split('\n')[0]}`,
        );
      }
    }
  }
}

/** A target's `labelSelector` of `key=value` pairs (the form Strata uses); any other form is refused, not guessed. */
function labelMatcher(selector: string | undefined, dir: string): (labels: Record<string, string>) => boolean {
  if (!selector) return () => true;
  const pairs = selector.split(',').map((term) => /^\s*([\w./-]+)\s*==?\s*([\w.-]+)\s*$/.exec(term));
  if (pairs.some((m) => !m))
    throw new Error(
      `${kustomizationFile(dir)}: labelSelector '${selector}' is not of the form key=value[,key=value] (all this reader understands)`,
    );
  return (labels) => pairs.every((m) => labels[m![1]!] === m![2]);
}
