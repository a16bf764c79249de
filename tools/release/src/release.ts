import { loadServices } from '@strata/service-registry';
import { DEFAULT_BASE_IMAGE } from './content-tag.js';
import { buildImages, contentTags } from './images.js';
import { RELEASED_OVERLAYS, writeImageTags } from './overlay-images.js';

export interface ReleaseOptions {
  repoRoot: string;
  overlays?: readonly string[];
  services?: string[];
  /** Build (or find) the images before declaring them; false only declares the tags (the images are built elsewhere). */
  build?: boolean;
  baseImage?: string;
  env?: NodeJS.ProcessEnv;
  log?: (line: string) => void;
}

export interface ReleaseResult {
  tags: Record<string, string>;
  /** Per overlay, the services whose declared tag changed: these, and only these, roll. */
  changes: Record<string, { service: string; from?: string; to: string }[]>;
}

/**
 * A release is a declaration: the content tag of every service's image is written into the overlays' `images:`, so the
 * overlay in git says exactly what runs. Services whose inputs did not change keep their tag, so applying the overlay
 * rolls only what changed.
 */
export async function release(options: ReleaseOptions): Promise<ReleaseResult> {
  const services = options.services ?? loadServices(options.repoRoot).names;
  const base = options.baseImage ?? DEFAULT_BASE_IMAGE;
  const tags = options.build
    ? Object.fromEntries(
        (
          await buildImages({ repoRoot: options.repoRoot, services, baseImage: base, alias: 'dev', env: options.env, log: options.log })
        ).map((i) => [i.service, i.tag]),
      )
    : await contentTags(options.repoRoot, services, base);
  const changes: ReleaseResult['changes'] = {};
  for (const overlay of options.overlays ?? RELEASED_OVERLAYS) changes[overlay] = writeImageTags(options.repoRoot, overlay, tags);
  return { tags, changes };
}
