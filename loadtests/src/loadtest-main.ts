#!/usr/bin/env node
// npm run loadtest -- --scenario browse --rate 50 --duration 30 [--base-url http://127.0.0.1:8080]
// The Node load driver, for machines without k6: the same scenarios (loadtests/scenarios.js), open loop,
// HDR latency percentiles, progress every second, a JSON summary in reports/loadtest-<scenario>.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { SLO, scenarios } from '../scenarios.js';
import { progressLine, runOpenLoop } from './driver.js';

const { values } = parseArgs({
  options: {
    scenario: { type: 'string', default: 'browse' },
    rate: { type: 'string', default: '20' },
    duration: { type: 'string', default: '30' },
    'base-url': { type: 'string', default: process.env.BASE_URL ?? 'http://127.0.0.1:8080' },
    'order-id': { type: 'string' },
    out: { type: 'string', default: 'reports' },
  },
});
const name = values.scenario as keyof typeof scenarios;
const scenario = scenarios[name];
if (!scenario) {
  console.error(`unknown scenario ${values.scenario}; known: ${Object.keys(scenarios).join(', ')}`);
  process.exit(2);
}
const rate = Number(values.rate);
const duration = Number(values.duration);
console.log(
  `${name}: ${scenario.description}; ${rate} req/s for ${duration} s against ${values['base-url']} (limited by ${scenario.layer})`,
);
const result = await runOpenLoop({
  baseUrls: [values['base-url']!],
  scenario,
  context: { runId: String(Date.now()), orderId: values['order-id'] },
  rate,
  durationSec: duration,
  onProgress: (s) => console.log(progressLine(name, s)),
});
const l = result.latencyMs;
console.log(
  `\nsent ${result.sent}, ok ${result.completed}, failed ${result.failed}, dropped ${result.dropped}; achieved ${result.achievedRate.toFixed(1)} req/s`,
);
console.log(
  `latency ms: p50 ${l.p50.toFixed(1)}  p90 ${l.p90.toFixed(1)}  p95 ${l.p95.toFixed(1)}  p99 ${l.p99.toFixed(1)}  max ${l.max.toFixed(1)}`,
);
if (Object.keys(result.errors).length) console.log('errors:', result.errors);
const ok = result.failed === 0 && result.dropped === 0 && l.p95 <= SLO.p95Ms && l.p99 <= SLO.p99Ms;
console.log(`thresholds (p95 < ${SLO.p95Ms} ms, p99 < ${SLO.p99Ms} ms, no failures): ${ok ? 'met' : 'NOT met'}`);
mkdirSync(values.out!, { recursive: true });
writeFileSync(`${values.out}/loadtest-${name}.json`, JSON.stringify(result, null, 2));
process.exitCode = ok ? 0 : 1;
