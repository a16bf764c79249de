import { contractDir, type ServiceDeclaration } from '@strata/service-registry';

/** Paths nobody's service owns: the platform (shared libraries, tools, overlays, CI). */
export const PLATFORM_OWNER = '@strata/platform-team';
const SHARED = [
  '/libs/',
  '/tools/',
  '/k8s/overlays/',
  '/k8s/components/',
  '/k8s/base/kustomization.yaml',
  '/k8s/base/postgres/',
  '/loadtests/',
  '/proto/strata/common/',
  '/proto/buf.yaml',
  '/proto/buf.gen.yaml',
  '/proto/breaking-baseline.json',
  '/.ci/',
  '/docs/',
  '/package.json',
  '/package-lock.json',
  '/nx.json',
  '/eslint.config.js',
];

/** The paths of one service's room: everything its team owns, as declared in apps/<name>/service.json. */
export function roomOf(s: ServiceDeclaration): string[] {
  const paths = [
    `/apps/${s.name}/`,
    `/k8s/base/${s.name}/`,
    `/k8s/components/network-policies/${s.name}.yaml`,
    `/${s.load.scenarios}`,
    ...s.load.k6.map((f) => `/${f}`),
  ];
  if (s.layer !== 'edge') paths.splice(1, 0, `/${contractDir(s.name)}/`);
  return paths;
}

/**
 * CODEOWNERS from the declarations: the platform owns the shared paths (listed first, so that a service's own
 * entries, which come later, win for the files in its room — the last matching pattern decides).
 */
export function renderCodeowners(services: readonly ServiceDeclaration[]): string {
  const lines = [
    '# Generated from the service declarations (apps/<name>/service.json) by the service generator; `npm test`',
    '# checks it is current. The last matching pattern wins: shared paths first, then each service room.',
    '',
    '# Shared: libraries, tools, overlays and components, the data layer, common contracts, CI, docs',
    `* ${PLATFORM_OWNER}`,
    ...SHARED.map((path) => `${path} ${PLATFORM_OWNER}`),
  ];
  for (const s of [...services].sort((a, b) => a.name.localeCompare(b.name))) {
    lines.push('', `# ${s.name} (${s.layer})`, ...roomOf(s).map((path) => `${path} ${s.owners.join(' ')}`));
  }
  return `${lines.join('\n')}\n`;
}
