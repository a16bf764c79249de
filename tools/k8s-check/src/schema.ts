import * as models from 'kubernetes-models';
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
export function schemaProblems(object: K8sObject): string[] {
  const Model = modelFor(object.apiVersion, object.kind);
  if (!Model) return [`${object.kind}/${object.metadata?.name}: no schema for ${object.apiVersion} ${object.kind}`];
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
