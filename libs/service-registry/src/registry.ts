import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LAYERS, serviceDeclaration, type Layer, type ServiceDeclaration } from './declaration.js';

/** The repository this library belongs to (libs/service-registry/dist → repo root). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** The file that declares a service, next to its app. */
export const DECLARATION_FILE = 'service.json';

/** Start order: callees before callers (the data layer first), so a caller's first calls find someone to talk to. */
export const START_ORDER: readonly (Layer | 'data')[] = ['data', 'leaf', 'composite', 'edge'];

/** Which layers a layer may call: a leaf calls nothing, a composite only leaves, the edge composites and leaves. */
export const MAY_CALL: Record<Layer, readonly Layer[]> = { leaf: [], composite: ['leaf'], edge: ['composite', 'leaf'] };

export class ServiceRegistry {
  private readonly byName: Map<string, ServiceDeclaration>;

  constructor(
    /** Every declared service, in start order (leaf, composite, edge), then by name. */
    readonly services: readonly ServiceDeclaration[],
    readonly repoRoot: string,
  ) {
    this.byName = new Map(services.map((s) => [s.name, s]));
  }

  get names(): string[] {
    return this.services.map((s) => s.name);
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  get(name: string): ServiceDeclaration {
    const service = this.byName.get(name);
    if (!service)
      throw new Error(`no service named '${name}' is declared; declared: ${this.names.join(', ')} (apps/<name>/${DECLARATION_FILE})`);
    return service;
  }

  /** The services that serve a gRPC contract (every layer but the edge). */
  grpc(): ServiceDeclaration[] {
    return this.services.filter((s) => s.contract);
  }

  inLayer(layer: Layer): ServiceDeclaration[] {
    return this.services.filter((s) => s.layer === layer);
  }

  /** Who calls `name`. */
  callersOf(name: string): ServiceDeclaration[] {
    return this.services.filter((s) => s.calls.includes(name));
  }

  /** The service that owns a k6 script (loadtests/k6/<file>), if one declares it. */
  ownerOfScript(path: string): ServiceDeclaration | undefined {
    return this.services.find((s) => s.load.k6.includes(path));
  }
}

/** Problems across declarations: unknown callees, calls against the layering, ports used twice. Empty when sound. */
export function registryProblems(services: readonly ServiceDeclaration[]): string[] {
  const problems: string[] = [];
  const byName = new Map(services.map((s) => [s.name, s]));
  for (const s of services) {
    for (const callee of s.calls) {
      const target = byName.get(callee);
      if (!target) problems.push(`${s.name}: calls '${callee}', which no apps/*/${DECLARATION_FILE} declares`);
      else if (!MAY_CALL[s.layer].includes(target.layer)) {
        problems.push(
          `${s.name} (${s.layer}) may not call ${callee} (${target.layer}): a ${s.layer} ${s.layer === 'leaf' ? 'calls nothing' : `calls only ${MAY_CALL[s.layer].join(' and ')} services`}`,
        );
      }
    }
  }
  const seen = new Map<number, string>();
  for (const s of services) {
    for (const port of Object.values(s.standalonePorts)) {
      if (port === undefined) continue;
      const other = seen.get(port);
      if (other) problems.push(`${s.name}: standalone port ${port} is also ${other}'s`);
      seen.set(port, s.name);
    }
  }
  return problems;
}

/** Reads and validates `apps/*\/service.json`; throws one error that lists every problem. */
export function loadServices(repoRoot: string = REPO_ROOT): ServiceRegistry {
  const appsDir = join(repoRoot, 'apps');
  const problems: string[] = [];
  const services: ServiceDeclaration[] = [];
  for (const entry of readdirSync(appsDir, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const file = join(appsDir, entry.name, DECLARATION_FILE);
    if (!existsSync(file)) {
      problems.push(`apps/${entry.name}: no ${DECLARATION_FILE} (every app declares its service; \`npm run new-service\` writes one)`);
      continue;
    }
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(file, 'utf8'));
    } catch (error) {
      problems.push(`apps/${entry.name}/${DECLARATION_FILE}: not JSON (${(error as Error).message})`);
      continue;
    }
    const parsed = serviceDeclaration.safeParse(raw);
    if (!parsed.success) {
      for (const issue of parsed.error.issues)
        problems.push(`apps/${entry.name}/${DECLARATION_FILE}: ${issue.path.join('.') || '(root)'}: ${issue.message}`);
      continue;
    }
    if (parsed.data.name !== entry.name)
      problems.push(`apps/${entry.name}/${DECLARATION_FILE}: name is '${parsed.data.name}', the folder is '${entry.name}'`);
    services.push(parsed.data);
  }
  problems.push(...registryProblems(services));
  if (problems.length > 0) throw new Error(`service declarations are not sound:\n  ${problems.join('\n  ')}`);
  const rank = (s: ServiceDeclaration) => START_ORDER.indexOf(s.layer);
  services.sort((a, b) => rank(a) - rank(b) || a.name.localeCompare(b.name));
  return new ServiceRegistry(services, repoRoot);
}

export { LAYERS };
