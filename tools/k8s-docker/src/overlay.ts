import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { renderKustomization } from '@strata/k8s-check';
import { MissingPrerequisite, kustomizeMissing } from '@strata/preflight';
import { stringify } from 'yaml';
import type { KubeObject } from './objects.js';

/**
 * Images that cannot be had on a machine without a registry, each replaced by a local stand-in only through this
 * printed mapping: the official postgres image by Debian's PostgreSQL with the same contract
 * (tools/k8s-docker/images/postgres, `npm run images:postgres`).
 */
export const DEFAULT_IMAGE_MAP: Readonly<Record<string, string>> = { 'postgres:16-bookworm': 'strata/postgres:dev' };

export interface RenderOptions {
  /** A folder with a kustomization (an overlay of k8s/overlays, or any other). */
  overlayDir: string;
  /**
   * Run the Strata images with this tag instead of the declared ones (`dev`, or the content tags `npm run images` just
   * built): written as an `images:` overlay on top of the real one, in `workDir`, so the change is Kustomize's and visible.
   */
  tag?: string;
  /** Extra Kustomize fields on top (replicas, patches): the capacity experiment's steps. */
  extra?: Record<string, unknown>;
  workDir: string;
}

/** `kubectl kustomize` of an overlay, with the optional layer on top; throws a one-line reason when it cannot render. */
export function renderOverlay(options: RenderOptions): KubeObject[] {
  const noKustomize = kustomizeMissing();
  if (noKustomize) throw new MissingPrerequisite(noKustomize);
  const overlay = resolve(options.overlayDir);
  if (!existsSync(join(overlay, 'kustomization.yaml')))
    throw new Error(`${overlay}: no kustomization.yaml (an overlay is a folder of k8s/overlays)`);
  if (!options.tag && !options.extra) return renderKustomization(overlay) as KubeObject[];
  const base = renderKustomization(overlay) as KubeObject[];
  const strataImages = [
    ...new Set(
      base
        .flatMap((o) => [...(o.spec?.template?.spec?.containers ?? []), ...(o.spec?.template?.spec?.initContainers ?? [])])
        .map((c: { image: string }) => c.image.split(':')[0]!)
        .filter((name: string) => name.startsWith('strata/')),
    ),
  ];
  mkdirSync(options.workDir, { recursive: true });
  // `images:` of the extra layer win over the tag, name by name.
  const extraImages = (options.extra?.images ?? []) as { name: string }[];
  const tagged = options.tag
    ? strataImages.filter((name) => !extraImages.some((i) => i.name === name)).map((name) => ({ name, newTag: options.tag }))
    : [];
  const images = [...tagged, ...extraImages];
  const kustomization = {
    apiVersion: 'kustomize.config.k8s.io/v1beta1',
    kind: 'Kustomization',
    resources: [relative(options.workDir, overlay)],
    ...options.extra,
    ...(images.length ? { images } : {}),
  };
  writeFileSync(
    join(options.workDir, 'kustomization.yaml'),
    `# Written by the k8s:docker runtime on top of ${relative(options.workDir, overlay)}; regenerated on every render.\n${stringify(kustomization)}`,
  );
  return renderKustomization(options.workDir) as KubeObject[];
}

/** `a=b` pairs (repeatable `--image-map`) over the defaults. */
export function parseImageMap(pairs: readonly string[]): Record<string, string> {
  const map: Record<string, string> = { ...DEFAULT_IMAGE_MAP };
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new Error(`--image-map ${pair}: expected <image as the manifest names it>=<local image>`);
    map[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return map;
}
