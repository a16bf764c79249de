import { execFileSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

/** A Kubernetes object as rendered: plain JSON. */
export type K8sObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  // Objects are inspected field by field by the policies; their shape differs by kind.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  spec?: any;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  [key: string]: any;
};

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
/**
 * Every overlay a user applies (minikube-observability is minikube plus the opt-in observability component;
 * local-autoscaling is local with autoscalers that react within a minute), and the one the capacity experiment runs in
 * containers (minikube plus its settings).
 */
export const OVERLAYS = [
  'local',
  'local-autoscaling',
  'minikube',
  'minikube-observability',
  'production',
  'production-cloudnative-pg',
  'capacity',
] as const;
export const overlayDir = (overlay: string) => join(REPO_ROOT, 'k8s', 'overlays', overlay);
/** Overlays that run released images in a cluster: their images must be immutable (a content tag or a digest). */
export const RELEASED_OVERLAYS: readonly string[] = [
  'minikube',
  'minikube-observability',
  'production',
  'production-cloudnative-pg',
  'capacity',
];

/** `kubectl kustomize DIR`, parsed. */
export function renderKustomization(dir: string): K8sObject[] {
  const yaml = execFileSync('kubectl', ['kustomize', dir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return parseAllDocuments(yaml)
    .map((d) => d.toJS() as K8sObject | null)
    .filter((o): o is K8sObject => o !== null);
}
