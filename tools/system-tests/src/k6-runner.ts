import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { REPO_ROOT } from '@strata/local-cluster';
import { loadScenarios, runOpenLoop, type Scenario } from '@strata/loadtests';

/** k6 as users find it: $K6, then PATH, then the copy every developer machine and CI has beside the repo. */
export function findK6(): string | undefined {
  const candidates = [
    process.env.K6,
    ...(process.env.PATH ?? '').split(delimiter).map((dir) => join(dir, 'k6')),
    join(REPO_ROOT, '..', 'shared', 'bin', 'k6'),
  ];
  return candidates.find((path) => path && existsSync(path) && spawnSync(path, ['version'], { stdio: 'ignore' }).status === 0);
}

/** What `k6 run --summary-export` writes (k6's own JSON summary). */
export interface Summary {
  metrics: Record<string, { count?: number; rate?: number; passes?: number; fails?: number; value?: number; 'p(99)'?: number }>;
}

/** Runs one script for a few seconds at a low rate, as a user would from the repository root. */
export function runScript(
  k6: string,
  file: string,
  env: Record<string, string>,
): Promise<{ code: number; output: string; summary: Summary }> {
  const out = join(mkdtempSync(join(tmpdir(), 'strata-k6-')), 'summary.json');
  const args = [
    'run',
    '--quiet',
    '--no-color',
    '--summary-export',
    out,
    ...Object.entries(env).flatMap(([k, v]) => ['-e', `${k}=${v}`]),
    join('loadtests', 'k6', file),
  ];
  return new Promise((resolve, reject) => {
    const child = spawn(k6, args, { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d));
    child.stderr.on('data', (d: Buffer) => (output += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, output, summary: JSON.parse(readFileSync(out, 'utf8')) as Summary });
    });
  });
}

/** Every k6 script of the repository. */
export const K6_SCRIPTS = readdirSync(join(REPO_ROOT, 'loadtests', 'k6')).filter((f) => f.endsWith('.js'));
export const NO_K6 =
  'no k6 found ($K6, PATH or ../shared/bin/k6): the k6 scripts were NOT run; install k6 (https://grafana.com/docs/k6/) to run them';

/**
 * Asserts what a passing run of a script is — k6 exited 0 (every threshold held), every scheduled iteration ran
 * (RATE × DURATION of a constant arrival rate), each with its request and its check, no failed request or check,
 * nothing dropped — and returns its row for the README's table.
 */
export function assertK6Run(file: string, run: { code: number; output: string; summary: Summary }, scheduled: number) {
  const grpc = file.startsWith('grpc-');
  const m = run.summary.metrics;
  // k6 counts HTTP requests (http_reqs); a gRPC script makes one call per iteration, each with one check.
  const requests = grpc ? { count: (m.checks?.passes ?? 0) + (m.checks?.fails ?? 0), rate: m.iterations?.rate } : m.http_reqs;
  const duration = grpc ? m.grpc_req_duration : m.http_req_duration;
  assert.equal(run.code, 0, `k6 exited ${run.code}:\n${run.output.slice(-3000)}`);
  // k6's constant-arrival-rate starts an iteration at 0 s and may start one at the very end too: 30 or 31 for 10/s × 3 s
  // (both seen in one run). Anything fewer is an iteration that did not run.
  const iterations = m.iterations?.count ?? 0;
  assert.ok(iterations === scheduled || iterations === scheduled + 1, `iterations: ${iterations} run of ${scheduled} scheduled`);
  // HTTP: one request per iteration, plus setup()'s check of the target; gRPC: one check per call.
  assert.equal(requests?.count ?? 0, grpc ? iterations : iterations + 1, `requests of ${iterations} iterations`);
  if (!grpc) assert.equal(m.http_req_failed?.passes, 0, 'failed HTTP requests');
  assert.equal(m.checks?.value, 1, 'checks passed');
  assert.equal(m.checks?.fails, 0);
  assert.equal(m.dropped_iterations?.count ?? 0, 0, 'dropped iterations');
  return {
    requests: requests?.count,
    rate: requests?.rate?.toFixed(1),
    p99: duration?.['p(99)']?.toFixed(1),
    failed: grpc ? m.checks?.fails : m.http_req_failed?.passes,
  };
}

/**
 * What the scripts call, called first for 3 s at 10 req/s each (the same scenario modules, through the repository's
 * Node engine): a script runs 30 requests, so on freshly started replicas its p95 would measure their first calls
 * (V8 compiling the hot paths, the first connections) rather than the steady state its thresholds are about. On a
 * slow day a cold recommendations replica put grpc-recommendations' p95 at 312 ms against its 250 ms threshold.
 */
export async function warmUp(gateway: string, grpcAddress: (service: string) => string, orderId: string): Promise<void> {
  const scenarios = await loadScenarios();
  const run = (name: string, target: { baseUrls: string[] } | { grpcTarget: string }) =>
    runOpenLoop({
      ...target,
      scenario: scenarios[name] as Scenario,
      context: { runId: `k6-warm-up-${Date.now()}`, orderId },
      rate: 10,
      durationSec: 3,
    });
  await Promise.all([
    ...['browse', 'quote', 'order', 'recommendations'].map((name) => run(name, { baseUrls: [gateway] })),
    ...(
      [
        ['grpcGetProduct', 'catalog'],
        ['grpcQuote', 'pricing'],
        ['grpcPlaceOrder', 'orders'],
        ['grpcRecommendations', 'recommendations'],
      ] as const
    ).map(([name, service]) => run(name, { grpcTarget: `ipv4:${grpcAddress(service)}` })),
  ]);
}
