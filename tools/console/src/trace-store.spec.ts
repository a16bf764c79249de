import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TraceStore, type OtlpTraceRequest } from './trace-store.js';

const attr = (key: string, value: string | number) => ({
  key,
  value: typeof value === 'string' ? { stringValue: value } : { intValue: value },
});
const span = (
  id: string,
  parent: string | undefined,
  name: string,
  kind: number,
  startMs: number,
  ms: number,
  attributes = [attr('rpc.system', 'grpc')],
) => ({
  traceId: 'aa'.repeat(16),
  spanId: id,
  parentSpanId: parent,
  name,
  kind,
  startTimeUnixNano: String(BigInt(startMs) * 1_000_000n),
  endTimeUnixNano: String(BigInt(startMs + ms) * 1_000_000n),
  attributes,
});
const exportOf = (service: string, spans: object[]): OtlpTraceRequest => ({
  resourceSpans: [{ resource: { attributes: [attr('service.name', service)] }, scopeSpans: [{ spans: spans as never }] }],
});

describe('the trace store (the local collector)', () => {
  it('joins the spans each service exports into one trace, shown once its root has arrived', () => {
    const store = new TraceStore();
    store.ingest(
      exportOf('orders', [
        span('b1', 'a2', 'grpc.strata.orders.v1.OrdersService/PlaceOrder', 2, 1002, 20, [attr('strata.request_id', 'r-1')]),
      ]),
    );
    assert.deepEqual(store.list(), [], 'a fragment without its root is not listed');
    store.ingest(
      exportOf('gateway', [
        span('a2', 'a1', 'grpc.strata.orders.v1.OrdersService/PlaceOrder', 3, 1001, 22),
        span('a1', undefined, 'POST', 2, 1000, 25, [
          attr('http.request.method', 'POST'),
          attr('http.route', '/api/orders'),
          attr('secret', 'x'),
        ]),
      ]),
    );
    const [summary] = store.list();
    assert.equal(summary!.name, 'POST /api/orders', 'named by method and route');
    assert.equal(summary!.spans, 3);
    assert.deepEqual(summary!.services.sort(), ['gateway', 'orders']);
    assert.equal(summary!.durationMs, 25);
    assert.equal(summary!.requestId, 'r-1');
    const spans = store.get('aa'.repeat(16))!;
    assert.deepEqual(
      spans.map((s) => [s.service, s.kind]),
      [
        ['gateway', 'server'],
        ['gateway', 'client'],
        ['orders', 'server'],
      ],
    );
    assert.equal(spans[0]!.attributes.secret, undefined, 'only the attributes the page shows are kept');
  });

  it('keeps only the newest traces', () => {
    const store = new TraceStore(2);
    for (const t of ['01', '02', '03'])
      store.ingest(exportOf('gateway', [{ ...span(`s${t}`, undefined, 'GET', 2, Number(t), 1), traceId: t.repeat(16) }]));
    assert.deepEqual(
      store.list().map((s) => s.traceId.slice(0, 2)),
      ['03', '02'],
    );
  });
});
