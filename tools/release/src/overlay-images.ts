import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseDocument, type YAMLMap, type YAMLSeq } from 'yaml';

/** The overlays a release writes: what runs in a cluster. `local` (npm start) runs the working tree, not images. */
export const RELEASED_OVERLAYS = ['minikube', 'production'] as const;

/** service → image tag, as an overlay's `images:` declares it (`name: strata/<service>`, `newTag: <tag>`). */
export type ImageTags = Record<string, string>;

export const overlayFile = (repoRoot: string, overlay: string) => join(repoRoot, 'k8s', 'overlays', overlay, 'kustomization.yaml');

/** The image tags a kustomization text declares for Strata's images. */
export function parseImageTags(text: string): ImageTags {
  const images = (parseDocument(text).toJS() as { images?: { name: string; newTag?: string }[] }).images ?? [];
  return Object.fromEntries(
    images.filter((i) => i.name.startsWith('strata/') && i.newTag).map((i) => [i.name.slice('strata/'.length), String(i.newTag)]),
  );
}

export function readImageTags(repoRoot: string, overlay: string): ImageTags {
  return parseImageTags(readFileSync(overlayFile(repoRoot, overlay), 'utf8'));
}

/**
 * Sets `newTag` of each given service's image in the overlay's `images:` (adding entries, and the field, where
 * missing), keeping the file's comments and order. Returns the services whose tag changed, with old and new tags.
 */
export function writeImageTags(repoRoot: string, overlay: string, tags: ImageTags): { service: string; from?: string; to: string }[] {
  const file = overlayFile(repoRoot, overlay);
  const document = parseDocument(readFileSync(file, 'utf8'));
  let images = document.get('images') as YAMLSeq<YAMLMap> | undefined;
  if (!images) {
    document.set('images', document.createNode([]));
    images = document.get('images') as YAMLSeq<YAMLMap>;
  }
  const changes: { service: string; from?: string; to: string }[] = [];
  for (const [service, tag] of Object.entries(tags)) {
    const entry = images.items.find((item) => item.get('name') === `strata/${service}`);
    const from = entry?.get('newTag') as string | undefined;
    if (from === tag) continue;
    if (entry) entry.set('newTag', tag);
    else images.add(document.createNode({ name: `strata/${service}`, newTag: tag }));
    changes.push({ service, from: from === undefined ? undefined : String(from), to: tag });
  }
  if (changes.length > 0) writeFileSync(file, document.toString({ flowCollectionPadding: false }));
  return changes;
}
