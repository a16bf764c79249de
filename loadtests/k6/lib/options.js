// Options and summary shared by every Strata k6 script. Requires k6 v1.0 or newer (k6/net/grpc, arrival-rate
// executors and handleSummary are all stable there).
//
// Environment:
//   MODE      constant (default) | ramping
//   RATE      arrivals per second (default 20)
//   DURATION  steady duration (default 1m)
//   P95_MS, P99_MS  latency thresholds (defaults from loadtests/scenarios.js SLO)
//   SUMMARY_DIR     where handleSummary writes JSON (default reports/k6)
import { textSummary } from 'https://jslib.k6.io/k6-summary/0.1.0/index.js';
import { SLO } from '../../scenarios.js';

const RATE = Number(__ENV.RATE || 20);
const DURATION = __ENV.DURATION || '1m';
const P95 = Number(__ENV.P95_MS || SLO.p95Ms);
const P99 = Number(__ENV.P99_MS || SLO.p99Ms);

/** Open-loop scenarios: k6 starts iterations on schedule whatever the latency (no coordinated omission). */
function scenario() {
  const vus = { preAllocatedVUs: Math.min(200, Math.max(10, RATE)), maxVUs: Math.max(100, RATE * 10) };
  if ((__ENV.MODE || 'constant') === 'ramping') {
    return {
      executor: 'ramping-arrival-rate',
      startRate: 1,
      timeUnit: '1s',
      ...vus,
      stages: [
        { target: RATE, duration: '30s' },
        { target: RATE, duration: DURATION },
        { target: 0, duration: '10s' },
      ],
    };
  }
  return { executor: 'constant-arrival-rate', rate: RATE, timeUnit: '1s', duration: DURATION, ...vus };
}

/** Options of an HTTP script: failed requests, latency and dropped iterations all have thresholds. */
export function httpOptions(name) {
  return {
    scenarios: { [name]: scenario() },
    thresholds: {
      http_req_failed: ['rate==0'],
      http_req_duration: [`p(95)<${P95}`, `p(99)<${P99}`],
      dropped_iterations: ['count==0'],
      checks: ['rate==1'],
    },
  };
}

/** Options of a gRPC script. */
export function grpcOptions(name) {
  return {
    scenarios: { [name]: scenario() },
    thresholds: {
      grpc_req_duration: [`p(95)<${P95}`, `p(99)<${P99}`],
      dropped_iterations: ['count==0'],
      checks: ['rate==1'],
    },
  };
}

/** handleSummary: the usual text on stdout and the whole summary as JSON for reports. */
export function summaryTo(name) {
  return (data) => ({
    stdout: textSummary(data, { indent: ' ', enableColors: true }),
    [`${__ENV.SUMMARY_DIR || 'reports/k6'}/${name}.json`]: JSON.stringify(data, null, 2),
  });
}
