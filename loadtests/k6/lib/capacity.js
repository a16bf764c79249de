// The capacity experiment's probes under k6 (`npm run capacity -- --driver k6`): one scenario, open loop
// (constant-arrival-rate, MODE=open, RATE) or closed loop (constant-vus, MODE=closed, VUS), for DURATION, against one
// or several gateway replicas (BASE_URLS, comma-separated: iteration i goes to URL i mod n, as a Service spreads
// connections) or gRPC replicas (TARGETS: each VU keeps a connection to one of them, VU mod n). The experiment writes a
// small script that imports this and the scenario module, and reads k6's JSON summary (--summary-export).
import http from 'k6/http';
import grpc from 'k6/net/grpc';
import { check } from 'k6';
import exec from 'k6/execution';

const MODE = __ENV.MODE || 'open';
const DURATION = __ENV.DURATION || '5s';
const BASE_URLS = (__ENV.BASE_URLS || '').split(',').filter(Boolean);
const TARGETS = (__ENV.TARGETS || '').split(',').filter(Boolean);
const START = Number(__ENV.START_INDEX || 0);
const CONTEXT = { runId: __ENV.RUN_ID || String(Date.now()), orderId: __ENV.ORDER_ID };
const TIMEOUT = __ENV.TIMEOUT || '10s';

export function capacityOptions(name) {
  const rate = Number(__ENV.RATE || 10);
  const vus = Number(__ENV.VUS || 8);
  const scenario =
    MODE === 'closed'
      ? { executor: 'constant-vus', vus, duration: DURATION }
      : {
          executor: 'constant-arrival-rate',
          rate,
          timeUnit: '1s',
          duration: DURATION,
          preAllocatedVUs: Math.max(10, Math.ceil(rate / 4)),
          maxVUs: Math.max(100, rate * 2),
        };
  return {
    scenarios: { [name]: { ...scenario, gracefulStop: '10s' } },
    summaryTrendStats: ['avg', 'min', 'med', 'p(90)', 'p(95)', 'p(99)', 'max'],
    // Probes are judged by the experiment, not by thresholds; k6 exits 0 whatever the outcome.
    thresholds: {},
  };
}

export function capacityIteration(scenarioOf) {
  if (scenarioOf.protocol === 'grpc') {
    const client = new grpc.Client();
    let connected = false;
    return function () {
      const i = START + exec.scenario.iterationInTest;
      let response;
      try {
        if (!connected) {
          client.connect(TARGETS[(exec.vu.idInTest - 1) % TARGETS.length], { plaintext: true, reflect: true, timeout: '5s' });
          connected = true;
        }
        response = client.invoke(`${scenarioOf.service}/${scenarioOf.method}`, scenarioOf.request(i, CONTEXT), {
          timeout: TIMEOUT,
          metadata: { 'x-request-id': `k6-${CONTEXT.runId}-${i}` },
        });
      } catch (error) {
        // A call that throws is a failed call: it fails its check (counted), it does not vanish from the figures.
        console.error(`${scenarioOf.service}/${scenarioOf.method} #${i}: ${error}`);
      }
      check(response, { 'status is OK': (r) => Boolean(r) && r.status === grpc.StatusOK });
    };
  }
  return function () {
    const i = START + exec.scenario.iterationInTest;
    const request = scenarioOf.request(i, CONTEXT);
    const response = http.request(request.method, BASE_URLS[i % BASE_URLS.length] + request.path, request.body || null, {
      headers: request.headers,
      tags: { name: request.name },
      timeout: TIMEOUT,
    });
    check(response, { 'status is 2xx': (r) => r.status >= 200 && r.status < 300 });
  };
}
