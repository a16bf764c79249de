import { resolve } from 'node:path';
import { readKustomization, readOverlayDeployments } from '@strata/service-registry';

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
