import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import * as models from 'kubernetes-models';
import { parseAllDocuments } from 'yaml';
import type { K8sObject } from './render.js';

type ModelClass = new (data: unknown) => { validate(): void };

/** The kubernetes-models class for an apiVersion and kind ("networking.k8s.io/v1" → networkingK8sIo.v1). */
function modelFor(apiVersion: string, kind: string): ModelClass | undefined {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  const groupKey = group ? group.replace(/\.([a-z])/g, (_, c: string) => c.toUpperCase()) : undefined;
  const tree = models as unknown as Record<string, Record<string, Record<string, ModelClass>>>;
  const versions = groupKey ? tree[groupKey] : (models as unknown as Record<string, Record<string, ModelClass>>);
  return (versions?.[version!] as Record<string, ModelClass> | undefined)?.[kind];
}

/** Validates an object against the Kubernetes API's OpenAPI schema; returns problems (empty when valid). */
export function schemaProblems(object: K8sObject, crds: CrdSchemas = crdSchemas()): string[] {
  const Model = modelFor(object.apiVersion, object.kind);
  if (!Model) {
    const validate = crds.get(`${object.apiVersion}/${object.kind}`);
    if (!validate)
      return crds.optional.has(object.apiVersion.split('/')[0]!)
        ? []
        : [`${object.kind}/${object.metadata?.name}: no schema for ${object.apiVersion} ${object.kind}`];
    const id = `${object.kind}/${object.metadata?.name}`;
    if (validate(object)) return [];
    return (validate.errors ?? []).map((e) => `${id}: ${e.instancePath || '/'} ${e.message} (the CRD's schema)`);
  }
  // kustomize wraps long base64 Secret values over several lines; the API server's decoder skips the newlines,
  // the schema's "byte" format does not, so compare what the server would decode.
  const data =
    object.kind === 'Secret' && object.data
      ? Object.fromEntries(Object.entries(object.data as Record<string, string>).map(([k, v]) => [k, v.replace(/\s+/g, '')]))
      : undefined;
  try {
    new Model(data ? { ...object, data } : object).validate();
    return [];
  } catch (error) {
    return [`${object.kind}/${object.metadata?.name}: ${(error as Error).message}`];
  }
}

/** Validators of custom resources, from the CRDs found in STRATA_CRD_DIR, by "group/version/Kind". */
export type CrdSchemas = Map<string, ValidateFunction> & { optional: Set<string>; dir?: string };

/**
 * API groups of operators an opt-in component uses (CloudNativePG's Cluster): their CRDs cannot be vendored here, so
 * an object of them is validated only where STRATA_CRD_DIR names a folder with the operator's published CRD files
 * (`kubectl kustomize` does not need them); otherwise it is reported as not validated, not as a problem.
 */
const OPERATOR_GROUPS = ['postgresql.cnpg.io'];

let cached: CrdSchemas | undefined;
export function crdSchemas(dir = process.env.STRATA_CRD_DIR): CrdSchemas {
  if (cached && cached.dir === dir) return cached;
  // CRD schemas are OpenAPI v3 with Kubernetes' extensions (x-kubernetes-*, int-or-string): not strict JSON Schema.
  const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
  const map = new Map<string, ValidateFunction>() as CrdSchemas;
  map.optional = new Set(OPERATOR_GROUPS);
  map.dir = dir;
  if (dir && existsSync(dir)) {
    for (const file of readdirSync(dir).filter((f) => /\.ya?ml$/.test(f))) {
      for (const doc of parseAllDocuments(readFileSync(join(dir, file), 'utf8'))) {
        const crd = doc.toJS() as {
          kind?: string;
          spec?: { group: string; names: { kind: string }; versions: { name: string; schema?: { openAPIV3Schema?: object } }[] };
        } | null;
        if (crd?.kind !== 'CustomResourceDefinition' || !crd.spec) continue;
        for (const version of crd.spec.versions)
          if (version.schema?.openAPIV3Schema)
            map.set(`${crd.spec.group}/${version.name}/${crd.spec.names.kind}`, ajv.compile(version.schema.openAPIV3Schema));
      }
    }
  }
  cached = map;
  return map;
}

/** Objects of an operator's API that were not validated, for the report (their CRD was not given). */
export function unvalidated(objects: readonly K8sObject[], crds: CrdSchemas = crdSchemas()): string[] {
  return objects
    .filter(
      (o) => !modelFor(o.apiVersion, o.kind) && !crds.has(`${o.apiVersion}/${o.kind}`) && crds.optional.has(o.apiVersion.split('/')[0]!),
    )
    .map(
      (o) =>
        `${o.kind}/${o.metadata.name} (${o.apiVersion}): not validated — set STRATA_CRD_DIR to a folder with the operator's CRD to check it`,
    );
}
