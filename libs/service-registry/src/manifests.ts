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
  /** Transformer configurations (files): Strata's add field specs to the replicas transformer. */
  configurations?: string[];
}

/** A field the replicas transformer also sets (kustomize `configurations`: `replicas: [{path, kind}]`). */
interface ReplicasFieldSpec {
  path: string;
  kind?: string;
}

interface Container {
  env?: { name: string; value?: string }[];
  ports?: { name?: string; containerPort: number }[];
  readinessProbe?: { grpc?: { service?: string } };
  resources?: { requests?: Quantities; limits?: Quantities };
}

interface K8sObject {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; labels?: Record<string, string> };
  spec?: {
    replicas?: number;
    [field: string]: unknown;
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

/**
 * The HorizontalPodAutoscaler objects of an overlay, as `kubectl kustomize` renders them (the subset of Kustomize
 * readOverlayDeployments describes, plus the replicas transformer's field specs that a component's `configurations`
 * add: Strata's hpa-follows-replicas makes each `replicas:` entry the HPA's minReplicas). The objects are returned
 * as plain data; @strata/autoscaler reads them.
 */
export function readOverlayAutoscalers(overlayDir: string): Record<string, unknown>[] {
  return collect(resolve(overlayDir))
    .filter(({ object }) => object.kind === 'HorizontalPodAutoscaler')
    .map(({ object }) => object as Record<string, unknown>)
    .sort((a, b) => String((a.metadata as { name?: string }).name).localeCompare(String((b.metadata as { name?: string }).name)));
}

/** A CPU quantity ("250m", "1", "0.5") in millicores; undefined when none is given. */
export function milliCpu(quantity: string | number | undefined): number | undefined {
  if (quantity === undefined) return undefined;
  const text = String(quantity);
  const milli = text.endsWith('m') ? Number(text.slice(0, -1)) : Math.round(Number(text) * 1000);
  if (!Number.isFinite(milli) || milli < 0) throw new Error(`not a CPU quantity: ${quantity}`);
  return milli;
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
  const fieldSpecs: ReplicasFieldSpec[] = [];
  for (const component of kustomization.components ?? []) {
    applyPatches(out, resolve(dir, component));
    fieldSpecs.push(...replicasFieldSpecs(resolve(dir, component)));
  }
  applyPatches(out, dir, kustomization);
  fieldSpecs.push(...replicasFieldSpecs(dir, kustomization));
  for (const item of out) item.labels = { ...own, ...item.labels };
  for (const { name, count } of kustomization.replicas ?? []) {
    const deployment = out.find(({ object }) => object.kind === 'Deployment' && object.metadata?.name === name);
    if (!deployment) throw new Error(`${dir}: replicas names '${name}', which is no Deployment of the base`);
    deployment.object.spec = { ...deployment.object.spec, replicas: count };
    for (const spec of fieldSpecs) {
      const [first, field, ...deeper] = spec.path.split('/');
      if (first !== 'spec' || !field || deeper.length > 0)
        throw new Error(`${dir}: a replicas field spec '${spec.path}' is not of the form spec/<field> (all this reader understands)`);
      for (const { object } of out)
        if (object.metadata?.name === name && (!spec.kind || object.kind === spec.kind)) object.spec = { ...object.spec, [field]: count };
    }
  }
  return out;
}

/** The field specs a kustomization's (or component's) `configurations` add to the replicas transformer. */
function replicasFieldSpecs(dir: string, kustomization = readKustomization(dir)): ReplicasFieldSpec[] {
  return (kustomization.configurations ?? []).flatMap((file) => {
    const configuration = parse(readFileSync(resolve(dir, file), 'utf8')) as { replicas?: ReplicasFieldSpec[] } | null;
    return configuration?.replicas ?? [];
  });
}

/** The kinds whose JSON patches this reader applies (what the runtimes read: Deployments and their autoscalers). */
const PATCHED_KINDS = new Set(['Deployment', 'HorizontalPodAutoscaler']);

/** Applies the JSON patches of the kustomization in `dir` to the Deployments and HPAs they target. */
function applyPatches(
  objects: { object: K8sObject; labels: Record<string, string> }[],
  dir: string,
  kustomization = readKustomization(dir),
): void {
  for (const entry of kustomization.patches ?? []) {
    const { target } = entry;
    const kind = target?.kind;
    if (!target || !kind || !PATCHED_KINDS.has(kind)) continue;
    const text = entry.patch ?? readFileSync(resolve(dir, entry.path ?? ''), 'utf8');
    const operations = parse(text) as unknown;
    if (!Array.isArray(operations)) continue; // a strategic-merge patch (see readOverlayDeployments)
    const name = target.name === undefined ? undefined : new RegExp(`^(?:${target.name})$`);
    const selected = labelMatcher(target.labelSelector, dir);
    for (const { object, labels } of objects) {
      if (object.kind !== kind || (name && !name.test(object.metadata?.name ?? ''))) continue;
      if (!selected({ ...labels, ...object.metadata?.labels })) continue;
      try {
        jsonpatch.applyPatch(object, operations as Operation[], true, true);
      } catch (error) {
        throw new Error(
          `${kustomizationFile(dir)}: a patch does not apply to ${kind} ${object.metadata?.name}: ${(error as Error).message.split('\n')[0]}`,
        );
      }
    }
  }
}

/**
 * A target's `labelSelector`: `key=value` and `key in (a,b)` terms, comma-separated (the forms Strata's overlays use);
 * any other form is refused, not guessed.
 */
function labelMatcher(selector: string | undefined, dir: string): (labels: Record<string, string>) => boolean {
  if (!selector) return () => true;
  const terms = selector.split(/,(?![^(]*\))/).map((term) => {
    const equality = /^\s*([\w./-]+)\s*==?\s*([\w.-]+)\s*$/.exec(term);
    if (equality) return (labels: Record<string, string>) => labels[equality[1]!] === equality[2];
    const set = /^\s*([\w./-]+)\s+in\s+\(([\w.,\s-]*)\)\s*$/.exec(term);
    if (set) {
      const values = set[2]!.split(',').map((v) => v.trim());
      return (labels: Record<string, string>) => values.includes(labels[set[1]!] ?? '');
    }
    throw new Error(
      `${kustomizationFile(dir)}: labelSelector '${selector}' is not of the form key=value or key in (a,b), comma-separated (all this reader understands)`,
    );
  });
  return (labels) => terms.every((matches) => matches(labels));
}
