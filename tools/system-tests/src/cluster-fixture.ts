import { freePort, reservePortRegion } from '@strata/dev-kit';
import { REPO_ROOT, startLocalCluster, type LocalCluster, type LocalClusterOptions } from '@strata/local-cluster';
import type { HttpScenario, Scenario } from '@strata/loadtests';
import { cpSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/** Boots the whole system as `npm start` does (same overlay, same supervisor) on free ports, in memory. */
export async function startTestCluster(
  options: {
    ephemeralDatabase?: boolean;
    extraEnv?: Record<string, string>;
    overlayDir?: string;
    /** The live page; `{ traces: false }` serves it without collecting traces (the replicas then run without tracing). */
    console?: boolean | { traces: boolean };
    /** The change loop of `npm start -- --watch`. */
    watchSources?: boolean;
    /** The overlay's HPAs acting, as on `npm start`. */
    autoscaling?: LocalClusterOptions['autoscaling'];
  } = {},
): Promise<LocalCluster> {
  const gatewayPort = await freePort();
  // Replica ports come from a region below Linux's ephemeral range (32768–60999), where freePort() finds the
  // gateway's port: the two can never collide. The region is claimed across processes (tests of other projects
  // boot clusters at the same time) and freed when the cluster stops.
  const region = await reservePortRegion();
  try {
    const cluster = await startLocalCluster({
      gatewayPort,
      basePort: region.base,
      overlayDir: options.overlayDir,
      stateDir: mkdtempSync(join(tmpdir(), 'strata-system-')),
      ephemeralDatabase: options.ephemeralDatabase ?? true,
      extraEnv: { LOG_LEVEL: 'warn', SHUTDOWN_DELAY_MS: '100', DRAIN_TIMEOUT_MS: '3000', ...options.extraEnv },
      supervisor: { initialBackoffMs: 300 },
      console: options.console ? { port: 0, traces: options.console === true || options.console.traces } : undefined,
      watchSources: options.watchSources,
      autoscaling: options.autoscaling,
    });
    // Replaced in place: the cluster's `plans` is a live getter that a copy would freeze.
    const stop = cluster.stop.bind(cluster);
    cluster.stop = () => stop().finally(region.release);
    return cluster;
  } catch (error) {
    region.release();
    throw error;
  }
}

/** Parsed JSON of an API response: tests inspect it field by field, so it is deliberately untyped. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;

/** A JSON request to the gateway; returns status, headers and parsed body. */
export async function call(
  baseUrl: string,
  path: string,
  init: RequestInit = {},
): Promise<{ status: number; headers: Headers; body: Json }> {
  const response = await fetch(`${baseUrl}${path}`, { ...init, signal: AbortSignal.timeout(10_000) });
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: response.status, headers: response.headers, body };
}

export const postJson = (baseUrl: string, path: string, body: unknown, headers: Record<string, string> = {}) =>
  call(baseUrl, path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });

/** A copy of k8s/ whose local overlay a test may edit (the checkout's own overlay is never touched). */
export function editableOverlay(): string {
  const copy = mkdtempSync(join(tmpdir(), 'strata-k8s-'));
  cpSync(join(REPO_ROOT, 'k8s'), join(copy, 'k8s'), { recursive: true });
  return join(copy, 'k8s', 'overlays', 'local');
}

/**
 * A test's own Kustomize layer on a checkout overlay (`k8s/overlays/<base>`), in a copy of k8s/: `kustomization` is
 * the layer's body, written below `resources: [../<base>]`. Returns the layer's directory, an overlay to boot.
 */
export function overlayLayer(base: string, kustomization: string): string {
  const dir = join(dirname(editableOverlay()), `test-${base}`);
  mkdirSync(dir);
  writeFileSync(
    join(dir, 'kustomization.yaml'),
    `apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - ../${base}\n${kustomization}`,
  );
  return dir;
}

/** Idempotent requests of every layer, in turn: product (catalog), quote (pricing), recommendations, order read. */
export function mixedScenario(scenarios: Record<string, Scenario>, orderId: string): HttpScenario {
  const pick = [scenarios.product, scenarios.quote, scenarios.recommendations, scenarios.orderRead] as HttpScenario[];
  return {
    protocol: 'http',
    layer: 'all',
    description: 'mixed idempotent',
    request: (i, ctx) => pick[i % pick.length]!.request(i, { ...ctx, orderId }),
  };
}
