import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { ScrapedCounter } from './metrics.js';

describe('ScrapedCounter: increments as plain numbers, handed to prom-client when the registry is read', () => {
  it('a scrape shows every increment once, per label set, and the next scrape adds only what came since', async () => {
    const registry = new Registry();
    const handled = new ScrapedCounter({
      name: 'probe_handled_total',
      help: 'probe',
      labelNames: ['grpc_method', 'grpc_code'],
      registers: [registry],
    });
    const ok = handled.labels({ grpc_method: 'GetProduct', grpc_code: 'OK' });
    const missing = handled.labels({ grpc_method: 'GetProduct', grpc_code: 'NOT_FOUND' });
    for (let i = 0; i < 5; i++) ok.inc();
    missing.inc();
    const first = await registry.metrics();
    assert.match(first, /^probe_handled_total\{grpc_method="GetProduct",grpc_code="OK"\} 5$/m);
    assert.match(first, /^probe_handled_total\{grpc_method="GetProduct",grpc_code="NOT_FOUND"\} 1$/m);
    assert.match(first, /^# TYPE probe_handled_total counter$/m);

    // A scrape with nothing new in between changes nothing (no double report).
    assert.equal(await registry.metrics(), first);

    ok.inc();
    ok.inc();
    const values = (await handled.counter.get()).values;
    assert.deepEqual(values.map((v) => [v.labels.grpc_code, v.value]).sort(), [
      ['NOT_FOUND', 1],
      ['OK', 7],
    ]);
  });

  it('two children of one label set add up in one series', async () => {
    const registry = new Registry();
    const started = new ScrapedCounter({ name: 'probe_started_total', help: 'probe', labelNames: ['grpc_method'], registers: [registry] });
    started.labels({ grpc_method: 'Quote' }).inc();
    started.labels({ grpc_method: 'Quote' }).inc();
    assert.match(await registry.metrics(), /^probe_started_total\{grpc_method="Quote"\} 2$/m);
  });
});
