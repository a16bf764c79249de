import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository this plugin belongs to (tools/workspace-plugin/dist → repo root). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
