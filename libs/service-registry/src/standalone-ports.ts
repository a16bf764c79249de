import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT, type ServiceRegistry } from './registry.js';

/** Where the kit reads the standalone ports from: generated, committed, never edited. */
export const STANDALONE_PORTS_FILE = 'libs/service-kit/src/standalone-ports.ts';

/**
 * The module the kit's env defaults are made from (`ownPorts`, `upstreamTargets`): each service's `standalonePorts`
 * of `apps/<name>/service.json`, their one home. Apps and the kit cannot read the declarations at run time (no image
 * holds another app's service.json, and the kit reads no files), so the fact is carried into code by generation, not
 * by hand; `npm run generate:standalone-ports` writes it, the service generator too, and a test fails when it is stale.
 */
export function standalonePortsModule(registry: ServiceRegistry): string {
  const key = (name: string) => (/^[a-z_$][a-z0-9_$]*$/i.test(name) ? name : `'${name}'`);
  const entries = registry.services.map((s) => {
    const ports = Object.entries(s.standalonePorts)
      .filter(([, port]) => port !== undefined)
      .map(([kind, port]) => `${kind}: ${port}`);
    return `  ${key(s.name)}: { ${ports.join(', ')} },`;
  });
  return [
    '// Generated from the standalonePorts of apps/*/service.json (npm run generate:standalone-ports): never edit it.',
    '// Where each service listens, and is dialled, when it runs alone on this machine (`node apps/<name>/dist/main.js`);',
    '// in a pod the manifests set every port and target, and `npm start` sets its own.',
    'export const STANDALONE_PORTS = {',
    ...entries,
    '} as const;',
    '',
  ].join('\n');
}

/** Writes the module into the checkout (`npm run generate:standalone-ports`). */
export function writeStandalonePorts(registry: ServiceRegistry, repoRoot = REPO_ROOT): string {
  const path = join(repoRoot, STANDALONE_PORTS_FILE);
  writeFileSync(path, standalonePortsModule(registry));
  return path;
}
