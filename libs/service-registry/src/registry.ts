import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LAYERS, serviceDeclaration, type Contract, type Layer, type ServiceDeclaration } from './declaration.js';
import { readOverlayDeployments, type DeploymentSpec } from './manifests.js';

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
  private base?: Map<string, DeploymentSpec>;

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

  /**
   * What k8s/base says of a service's pods: container ports, resources, readiness, env. Kubernetes owns these facts, so
   * they are written once, in the manifests, and read from there (without kubectl).
   */
  deployment(name: string): DeploymentSpec {
    this.base ??= new Map(readOverlayDeployments(join(this.repoRoot, 'k8s', 'base')).map((d) => [d.name, d]));
    const deployment = this.base.get(this.get(name).name);
    if (!deployment) throw new Error(`k8s/base has no Deployment ${name} (add k8s/base/${name} to k8s/base/kustomization.yaml)`);
    return deployment;
  }

  /** The port a service's pods serve gRPC on (the edge: HTTP), as its Deployment names it. */
  port(name: string, port: 'grpc' | 'http' | 'metrics'): number {
    const value = this.deployment(name).ports[port];
    if (value === undefined) throw new Error(`Deployment ${name} in k8s/base has no container port named ${port}`);
    return value;
  }

  /** Where a service's pods serve /metrics: the metrics port of a gRPC service, the edge's HTTP port. */
  metricsPort(name: string): number {
    return this.port(name, this.get(name).layer === 'edge' ? 'http' : 'metrics');
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
    const contract = readContract(repoRoot, parsed.data.name);
    if (parsed.data.layer !== 'edge' && !contract)
      problems.push(
        `apps/${entry.name}: a ${parsed.data.layer} service serves a gRPC contract, and ${contractDir(parsed.data.name)}/v<N>/ has no .proto`,
      );
    services.push({ ...parsed.data, contract });
  }
  problems.push(...registryProblems(services));
  if (problems.length > 0) throw new Error(`service declarations are not sound:\n  ${problems.join('\n  ')}`);
  const rank = (s: ServiceDeclaration) => START_ORDER.indexOf(s.layer);
  services.sort((a, b) => rank(a) - rank(b) || a.name.localeCompare(b.name));
  return new ServiceRegistry(services, repoRoot);
}

/** Where a service's contract lives: proto/strata/<name, "-" as "_">. */
export const contractDir = (name: string) => `proto/strata/${name.replace(/-/g, '_')}`;

/**
 * The contract a service serves, from its .proto files (the one place it is written): every `service` of every
 * version folder (v1, v2, … in order), named by the file's `package`. Undefined when there is none.
 */
export function readContract(repoRoot: string, name: string): Contract | undefined {
  const dir = join(repoRoot, contractDir(name));
  if (!existsSync(dir)) return undefined;
  const versions = readdirSync(dir)
    .filter((v) => /^v\d+$/.test(v))
    .sort((a, b) => Number(a.slice(1)) - Number(b.slice(1)));
  const packages: string[] = [];
  const services: string[] = [];
  for (const version of versions) {
    for (const file of readdirSync(join(dir, version))
      .filter((f) => f.endsWith('.proto'))
      .sort()) {
      const text = readFileSync(join(dir, version, file), 'utf8').replace(/\/\/.*$/gm, '');
      const pkg = /^\s*package\s+([\w.]+)\s*;/m.exec(text)?.[1];
      if (!pkg) continue;
      packages.push(pkg);
      for (const m of text.matchAll(/^\s*service\s+(\w+)\s*\{/gm)) services.push(`${pkg}.${m[1]}`);
    }
  }
  return services.length > 0 ? { package: packages[0]!, services } : undefined;
}

export { LAYERS };
