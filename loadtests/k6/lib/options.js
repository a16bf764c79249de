// What every Strata k6 script shares: open-loop scenarios, thresholds, and the iteration that sends one request of a
// scenario (loadtests/scenarios/*.js, the same definitions the Node driver uses). Needs k6 v1.0 or newer and
// nothing from the internet: the end-of-test summary is k6's own (add `--summary-export FILE` for JSON).
//
// Environment:
//   MODE      constant (default) | ramping
//   RATE      arrivals per second (default 20)
//   DURATION  steady duration (default 1m)
//   P95_MS, P99_MS  latency thresholds (defaults from loadtests/scenarios/common.js SLO)
//   BASE_URL  the gateway, for HTTP scripts (default http://127.0.0.1:8080)
//   TARGET    host:port of one replica, for gRPC scripts (default 127.0.0.1:50051)
//   RUN_ID    makes idempotency keys unique per run (default: the start time)
import http from 'k6/http';
import grpc from 'k6/net/grpc';
import { check } from 'k6';
import exec from 'k6/execution';
import { SLO } from '../../scenarios/common.js';

const RATE = Number(__ENV.RATE || 20);
const DURATION = __ENV.DURATION || '1m';
const P95 = Number(__ENV.P95_MS || SLO.p95Ms);
const P99 = Number(__ENV.P99_MS || SLO.p99Ms);
const BASE_URL = __ENV.BASE_URL || 'http://127.0.0.1:8080';
const TARGET = __ENV.TARGET || '127.0.0.1:50051';
const RUN_ID = __ENV.RUN_ID || String(Date.now());
const SUMMARY = { summaryTrendStats: ['avg', 'min', 'med', 'p(90)', 'p(95)', 'p(99)', 'max'] };

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
    ...SUMMARY,
    scenarios: { [name]: scenario() },
    thresholds: {
      http_req_failed: ['rate==0'],
      http_req_duration: [`p(95)<${P95}`, `p(99)<${P99}`],
      dropped_iterations: ['count==0'],
      checks: ['rate==1'],
    },
  };
}

/** Options of a gRPC script (a failed call fails its check). */
export function grpcOptions(name) {
  return {
    ...SUMMARY,
    scenarios: { [name]: scenario() },
    thresholds: {
      grpc_req_duration: [`p(95)<${P95}`, `p(99)<${P99}`],
      dropped_iterations: ['count==0'],
      checks: ['rate==1'],
    },
  };
}

/**
 * setup() of an HTTP script: one request to the gateway before the load starts. When nothing answers, the run stops
 * there with one line (k6 exits 108) instead of running its whole duration into failures. Any status is an answer.
 */
export function httpSetup() {
  const response = http.get(`${BASE_URL}/healthz`, {
    timeout: '3s',
    tags: { name: 'preflight' },
    responseCallback: http.expectedStatuses({ min: 200, max: 599 }),
  });
  if (response.status === 0)
    exec.test.abort(
      `nothing answers at ${BASE_URL} (${response.error}): start Strata with \`npm start\`, or pass -e BASE_URL=<the gateway>`,
    );
}

/** setup() of a gRPC script: the same check, as a connection and a reflection call to the replica. */
export function grpcSetup() {
  const client = new grpc.Client();
  try {
    client.connect(TARGET, { plaintext: true, reflect: true, timeout: '3s' });
  } catch (error) {
    exec.test.abort(
      `nothing answers gRPC at ${TARGET} (${error}): start Strata with \`npm start\` (\`npm run status\` lists every replica), or pass -e TARGET=host:port`,
    );
  } finally {
    client.close();
  }
}

/** The iteration of an HTTP script: request number `i` of the scenario, sent to the gateway. */
export function httpIteration(scenarioOf) {
  return function () {
    const request = scenarioOf.request(exec.scenario.iterationInTest, { runId: RUN_ID, orderId: __ENV.ORDER_ID });
    const response = http.request(request.method, BASE_URL + request.path, request.body || null, {
      headers: request.headers,
      tags: { name: request.name },
    });
    check(response, { 'status is 2xx': (r) => r.status >= 200 && r.status < 300 });
  };
}

/**
 * The iteration of a gRPC script: request number `i` of the scenario, straight to one replica. The client learns the
 * contract from the server's reflection service (every Strata service serves it), so no .proto file is needed and
 * the script runs from any directory.
 */
export function grpcIteration(scenarioOf) {
  const client = new grpc.Client();
  let connected = false;
  return function () {
    const i = exec.scenario.iterationInTest;
    let response;
    try {
      if (!connected) {
        client.connect(TARGET, { plaintext: true, reflect: true, timeout: '5s' });
        connected = true;
      }
      response = client.invoke(
        `${scenarioOf.service}/${scenarioOf.method}`,
        scenarioOf.request(i, { runId: RUN_ID, orderId: __ENV.ORDER_ID }),
        {
          timeout: '2s',
          metadata: { 'x-request-id': `k6-${RUN_ID}-${i}` },
        },
      );
    } catch (error) {
      // A call that throws (no connection, a reflection failure) is a failed call: it must fail its check, not vanish.
      console.error(`${scenarioOf.service}/${scenarioOf.method} #${i}: ${error}`);
    }
    check(response, { 'status is OK': (r) => Boolean(r) && r.status === grpc.StatusOK });
  };
}
