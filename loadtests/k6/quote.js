// k6: quotes (limited by pricing). Usage: k6 run -e BASE_URL=http://127.0.0.1:8080 -e RATE=50 -e DURATION=1m loadtests/k6/quote.js
import http from 'k6/http';
import { check } from 'k6';
import exec from 'k6/execution';
import { scenarios } from '../scenarios.js';
import { httpOptions, summaryTo } from './lib/options.js';

const BASE_URL = __ENV.BASE_URL || 'http://127.0.0.1:8080';
const RUN_ID = __ENV.RUN_ID || String(Date.now());

export const options = httpOptions('quote');

export default function () {
  const request = scenarios.quote.request(exec.scenario.iterationInTest, { runId: RUN_ID });
  const response = http.request(request.method, BASE_URL + request.path, request.body || null, {
    headers: request.headers,
    tags: { name: request.name },
  });
  check(response, { 'status is 2xx': (r) => r.status >= 200 && r.status < 300 });
}

export const handleSummary = summaryTo('quote');
