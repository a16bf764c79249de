import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { loadServices, type ServiceRegistry } from '@strata/service-registry';

/** The loadtests folder (dist → ..). */
export const LOADTESTS_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** One HTTP request of a scenario. */
export interface LoadRequest {
  method: 'GET' | 'POST';
  path: string;
  /** A stable name for the endpoint, for reports. */
  name: string;
  headers?: Record<string, string>;
  body?: string;
}
export interface ScenarioContext {
  runId: string;
  orderId?: string;
}
interface ScenarioBase {
  /** The service whose capacity limits this scenario. */
  layer: string;
  description: string;
}
/** Through the gateway, over HTTP. */
export interface HttpScenario extends ScenarioBase {
  protocol: 'http';
  request(i: number, ctx: ScenarioContext): LoadRequest;
}
/** Straight to one service, over gRPC: `request` is the message as protobuf JSON (lowerCamelCase fields). */
export interface GrpcScenario extends ScenarioBase {
  protocol: 'grpc';
  /** Fully qualified: "strata.pricing.v1.PricingService". */
  service: string;
  /** As in the .proto: "Quote". */
  method: string;
  request(i: number, ctx: ScenarioContext): Record<string, unknown>;
}
export type Scenario = HttpScenario | GrpcScenario;

/** What scenarios/common.js exports besides helpers. */
export interface Slo {
  p95Ms: number;
  p99Ms: number;
  maxErrorRate: number;
}

/**
 * Every scenario, by name, from the scenario module each service declares (`load.scenarios` in
 * apps/<name>/service.json): the same plain ES modules the k6 scripts import. Names are unique across modules.
 */
export async function loadScenarios(registry: ServiceRegistry = loadServices()): Promise<Record<string, Scenario>> {
  const all: Record<string, Scenario> = {};
  for (const service of registry.services) {
    const file = join(registry.repoRoot, service.load.scenarios);
    const module = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
    for (const [name, value] of Object.entries(module)) {
      const scenario = value as Partial<Scenario>;
      if (typeof scenario?.request !== 'function') continue;
      if (scenario.protocol !== 'http' && scenario.protocol !== 'grpc')
        throw new Error(`${service.load.scenarios}: scenario ${name} has no protocol (http or grpc)`);
      if (all[name])
        throw new Error(`scenario ${name} is exported by two modules (${service.load.scenarios} and another); names must be unique`);
      all[name] = scenario as Scenario;
    }
  }
  return all;
}

/** The SLO shared by the k6 scripts and the Node driver. */
export async function loadSlo(): Promise<Slo> {
  return ((await import(pathToFileURL(join(LOADTESTS_ROOT, 'scenarios', 'common.js')).href)) as { SLO: Slo }).SLO;
}
