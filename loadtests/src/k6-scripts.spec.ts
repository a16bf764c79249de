import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { registerHooks } from 'node:module';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { serviceDefinition } from '@strata/service-kit';
import { scenarios } from '../scenarios.js';

// The k6 scripts run here, in Node, against stand-ins of k6's modules: this checks that they parse, import
// the shared scenarios, declare open-loop scenarios with thresholds, and send exactly the requests the Node
// driver sends. (No k6 binary can run here; the stand-ins record what the scripts ask k6 to do.)
const K6_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'k6');
type Recorded = {
  http: { method: string; url: string; body: string | null }[];
  grpc: { method: string; request: Record<string, unknown> }[];
  i: number;
};
const g = globalThis as unknown as { __ENV: Record<string, string>; __k6: Recorded };
g.__ENV = { BASE_URL: 'http://gateway.test', RUN_ID: 'r1', TARGET: 'catalog.test:50051' };
g.__k6 = { http: [], grpc: [], i: 0 };

const STUBS: Record<string, string> = {
  'k6/http': `export default { request(method, url, body) { globalThis.__k6.http.push({ method, url, body }); return { status: 200 }; } };`,
  k6: `export function check(value, checks) { return Object.values(checks).every((f) => f(value)); }`,
  'k6/execution': `export default { scenario: { get iterationInTest() { return globalThis.__k6.i; } }, vu: { iterationInScenario: 0 } };`,
  'k6/net/grpc': `export default { StatusOK: 0, Client: class { load() {} connect() {} invoke(method, request) { globalThis.__k6.grpc.push({ method, request }); return { status: 0 }; } } };`,
  'https://jslib.k6.io/k6-summary/0.1.0/index.js': `export function textSummary() { return 'summary'; }`,
};
registerHooks({
  resolve(specifier, context, next) {
    if (specifier in STUBS) return { url: `stub:${specifier}`, shortCircuit: true };
    return next(specifier, context);
  },
  load(url, context, next) {
    if (url.startsWith('stub:')) return { format: 'module', source: STUBS[url.slice(5)]!, shortCircuit: true };
    return next(url, context);
  },
});

const load = (file: string, query = '') => import(`${pathToFileURL(join(K6_DIR, file)).href}${query}`);
const httpScripts = readdirSync(K6_DIR).filter((f) => f.endsWith('.js') && !f.startsWith('grpc-'));
const grpcScripts = readdirSync(K6_DIR).filter((f) => f.startsWith('grpc-'));

describe('k6 scripts', () => {
  it('has an HTTP script per endpoint group and a gRPC script per service', () => {
    assert.deepEqual(httpScripts.sort(), ['browse.js', 'order.js', 'quote.js', 'recommendations.js']);
    assert.deepEqual(grpcScripts.sort(), ['grpc-catalog.js', 'grpc-orders.js', 'grpc-pricing.js', 'grpc-recommendations.js']);
  });

  for (const file of httpScripts) {
    it(`${file}: open-loop scenario with thresholds, JSON summary, and the driver's requests`, async () => {
      const name = file.replace('.js', '') as keyof typeof scenarios;
      const script = await load(file);
      const [[scenarioName, scenario]] = Object.entries(script.options.scenarios) as [string, { executor: string; rate: number }][];
      assert.equal(scenarioName, name);
      assert.equal(scenario.executor, 'constant-arrival-rate');
      assert.ok(
        script.options.thresholds.http_req_failed &&
          script.options.thresholds.http_req_duration.length === 2 &&
          script.options.thresholds.dropped_iterations,
      );
      assert.ok(Object.keys(script.handleSummary({})).some((k) => k.endsWith(`${name}.json`)));
      for (let i = 0; i < 4; i++) {
        g.__k6.i = i;
        g.__k6.http.length = 0;
        script.default();
        const expected = scenarios[name].request(i, { runId: 'r1' });
        assert.deepEqual(g.__k6.http, [
          { method: expected.method, url: `http://gateway.test${expected.path}`, body: expected.body ?? null },
        ]);
      }
      const ramping = await load(file, '?ramping');
      assert.ok(ramping.options, 'a fresh instance loads');
    });
  }

  for (const file of grpcScripts) {
    it(`${file}: invokes a method of the contract with fields of its request message`, async () => {
      const script = await load(file);
      assert.ok(script.options.thresholds.grpc_req_duration);
      g.__k6.grpc.length = 0;
      g.__k6.i = 7;
      script.default();
      const [{ method, request }] = g.__k6.grpc;
      const [service, rpc] = method!.split('/') as [string, string];
      const definition = serviceDefinition(service)[rpc];
      assert.ok(definition, `${method} is in the contract`);
      // k6 takes protobuf JSON: lowerCamelCase field names.
      const fields = (definition.requestType as unknown as { type: { field: { name: string }[] } }).type.field.map((f) =>
        f.name.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase()),
      );
      for (const key of Object.keys(request!))
        assert.ok(fields.includes(key), `${key} is a field of ${service}/${rpc}'s request (${fields.join(', ')})`);
    });
  }
});
