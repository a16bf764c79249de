#!/usr/bin/env node
// npm run loadtest -- --scenario browse --rate 50 --duration 30 [--base-url http://127.0.0.1:8080]
// npm run loadtest -- --scenario grpcQuote --rate 200 --target 127.0.0.1:21301      (gRPC straight to a service)
// npm run loadtest -- --scenario recommendations --ramp 10:120 --duration 180        (arrivals rising 10 → 120 req/s)
// The Node load driver, for machines without k6: the same scenarios (loadtests/scenarios/*.js), open loop (or
// --concurrency N for a closed loop), HDR latency percentiles, progress every second, a JSON summary in
// reports/loadtest-<scenario>.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import { exitOnMissingPrerequisite, parseCommandLine, requireAnswer, requireGrpcAnswer } from '@strata/preflight';
import { progressLine, rateAt, runClosedLoop, runOpenLoop } from './driver.js';
import { loadScenarios, loadSlo } from './scenarios.js';

exitOnMissingPrerequisite();
const { values } = parseCommandLine(import.meta.url, {
  options: {
    scenario: { type: 'string', default: 'browse', description: 'a scenario of loadtests/scenarios/*.js (an unknown name lists them)' },
    rate: { type: 'string', default: '20', description: 'arrivals per second (open loop)' },
    ramp: { type: 'string', description: 'FROM:TO arrivals per second, rising (or falling) linearly over the run, instead of --rate' },
    concurrency: { type: 'string', description: 'N requests kept outstanding instead (closed loop)' },
    duration: { type: 'string', default: '30', description: 'seconds' },
    'base-url': {
      type: 'string',
      default: process.env.BASE_URL ?? 'http://127.0.0.1:8080',
      description: 'HTTP scenarios: the gateway ($BASE_URL)',
    },
    target: {
      type: 'string',
      default: process.env.TARGET,
      description: 'gRPC scenarios: host:port, or ipv4:a:p,b:p for several replicas ($TARGET)',
    },
    'order-id': { type: 'string', description: 'the order id that the order-reading scenarios ask for (ctx.orderId)' },
    out: { type: 'string', default: 'reports', description: 'where loadtest-<scenario>.json goes' },
  },
});
const scenarios = await loadScenarios();
const name = values.scenario!;
const scenario = scenarios[name];
if (!scenario) {
  console.error(`unknown scenario ${name}; known: ${Object.keys(scenarios).join(', ')}`);
  process.exit(2);
}
if (scenario.protocol === 'grpc' && !values.target) {
  console.error(`${name} calls ${scenario.service} over gRPC: give --target host:port (or ipv4:a:p,b:p for several replicas)`);
  process.exit(2);
}
const grpcTarget =
  values.target && !values.target.includes(':/') && !values.target.startsWith('ipv4:') ? `ipv4:${values.target}` : values.target;
// A pre-flight request before the load: a target that does not answer is one line, not a run of failures.
if (scenario.protocol === 'grpc')
  await requireGrpcAnswer(grpcTarget!, 'start Strata with `npm start` (`npm run status` lists every replica), or pass --target');
else await requireAnswer(`${values['base-url']}/healthz`, 'start Strata with `npm start`, or pass --base-url');
const duration = Number(values.duration);
const ramp = values.ramp ? /^(\d+(?:\.\d+)?):(\d+(?:\.\d+)?)$/.exec(values.ramp) : undefined;
if (values.ramp && (!ramp || Number(ramp[1]) <= 0 || Number(ramp[2]) <= 0)) {
  console.error(`--ramp takes FROM:TO arrivals per second, both above 0 (for example 10:120), got ${values.ramp}`);
  process.exit(2);
}
const rate = ramp ? { from: Number(ramp[1]), to: Number(ramp[2]) } : Number(values.rate);
const common = {
  baseUrls: [values['base-url']!],
  grpcTarget,
  scenario,
  context: { runId: String(Date.now()), orderId: values['order-id'] },
  durationSec: duration,
  onProgress: (s: Parameters<typeof progressLine>[1]) =>
    console.log(`${progressLine(name, s)}${ramp ? `  offered ${rateAt(rate, s.elapsedSec, duration).toFixed(0)} req/s` : ''}`),
};
const where = scenario.protocol === 'grpc' ? `${scenario.service}/${scenario.method} at ${grpcTarget}` : values['base-url'];
const result = values.concurrency
  ? (console.log(
      `${name}: ${scenario.description}; closed loop, ${values.concurrency} in flight for ${duration} s against ${where} (limited by ${scenario.layer})`,
    ),
    await runClosedLoop({ ...common, concurrency: Number(values.concurrency) }))
  : (console.log(
      `${name}: ${scenario.description}; ${ramp ? `${ramp[1]} → ${ramp[2]} req/s (a ramp)` : `${values.rate} req/s`} for ${duration} s against ${where} (limited by ${scenario.layer})`,
    ),
    await runOpenLoop({ ...common, rate }));
const l = result.latencyMs;
const slo = await loadSlo();
console.log(
  `\nsent ${result.sent}, ok ${result.completed}, failed ${result.failed}, dropped ${result.dropped}; achieved ${result.achievedRate.toFixed(1)} req/s`,
);
console.log(
  `latency ms: p50 ${l.p50.toFixed(1)}  p90 ${l.p90.toFixed(1)}  p95 ${l.p95.toFixed(1)}  p99 ${l.p99.toFixed(1)}  max ${l.max.toFixed(1)}`,
);
if (Object.keys(result.errors).length) console.log('errors:', result.errors);
const ok = result.failed === 0 && result.dropped === 0 && l.p95 <= slo.p95Ms && l.p99 <= slo.p99Ms;
console.log(`thresholds (p95 < ${slo.p95Ms} ms, p99 < ${slo.p99Ms} ms, no failures): ${ok ? 'met' : 'NOT met'}`);
mkdirSync(values.out!, { recursive: true });
writeFileSync(`${values.out}/loadtest-${name}.json`, JSON.stringify(result, null, 2));
process.exitCode = ok ? 0 : 1;
