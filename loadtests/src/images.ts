import { spawnSync } from 'node:child_process';
import { REPO_ROOT } from '@strata/service-registry';

/**
 * Builds what the containers run (`npm run images`: the services' images, content-tagged; `npm run images:postgres`),
 * after the caller checked that Docker answers. A build that fails has said why in its own line: the command stops with
 * its exit code.
 */
export function buildImages(): void {
  for (const script of ['images', 'images:postgres']) {
    const built = spawnSync('npm', ['run', '-s', script], { cwd: REPO_ROOT, stdio: 'inherit' });
    if (built.status !== 0) process.exit(built.status ?? 1);
  }
}
