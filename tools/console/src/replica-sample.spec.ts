import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { histogramQuantile, readReplicaSample, sampleDelta, windowStats } from './replica-sample.js';

const grpcPage = (ok: number, internal: number, le: Record<string, number>, cpu: number) => `
# TYPE grpc_server_handled_total counter
grpc_server_handled_total{grpc_service="catalog",grpc_method="getProduct",grpc_code="OK",service="catalog"} ${ok}
grpc_server_handled_total{grpc_service="catalog",grpc_method="getProduct",grpc_code="NOT_FOUND",service="catalog"} 5
grpc_server_handled_total{grpc_service="catalog",grpc_method="getProduct",grpc_code="INTERNAL",service="catalog"} ${internal}
# TYPE grpc_server_handling_seconds histogram
${Object.entries(le)
  .map(([b, c]) => `grpc_server_handling_seconds_bucket{le="${b}",grpc_service="catalog",grpc_method="getProduct",service="catalog"} ${c}`)
  .join('\n')}
grpc_server_handling_seconds_sum{grpc_service="catalog",grpc_method="getProduct",service="catalog"} 1
grpc_server_handling_seconds_count{grpc_service="catalog",grpc_method="getProduct",service="catalog"} ${le['+Inf']}
# TYPE process_cpu_seconds_total counter
process_cpu_seconds_total{service="catalog"} ${cpu}
`;

describe('reading replica metrics', () => {
  it('counts gRPC calls, only server-side failures as errors, and sums the latency histogram', () => {
    const s = readReplicaSample(grpcPage(90, 5, { '0.001': 50, '0.01': 95, '+Inf': 100 }, 2.5), 1000);
    assert.equal(s.requests, 100);
    assert.equal(s.errors, 5, 'INTERNAL counts, NOT_FOUND (the caller asked for something absent) does not');
    assert.deepEqual(s.buckets, [
      [0.001, 50],
      [0.01, 95],
      [Number.POSITIVE_INFINITY, 100],
    ]);
    assert.equal(s.cpuSeconds, 2.5);
  });

  it("at the edge, counts API requests and 5xx, not the probes' and scrapes' routes", () => {
    const page = `
# TYPE http_requests_total counter
http_requests_total{method="GET",route="/api/products/:id",status="200"} 40
http_requests_total{method="GET",route="/api/products/:id",status="503"} 2
http_requests_total{method="GET",route="/readyz",status="200"} 1000
# TYPE http_request_duration_seconds histogram
http_request_duration_seconds_bucket{le="0.01",method="GET",route="/api/products/:id"} 42
http_request_duration_seconds_bucket{le="+Inf",method="GET",route="/api/products/:id"} 42
http_request_duration_seconds_bucket{le="0.01",method="GET",route="/readyz"} 1000
http_request_duration_seconds_bucket{le="+Inf",method="GET",route="/readyz"} 1000
# TYPE process_cpu_seconds_total counter
process_cpu_seconds_total 1`;
    const s = readReplicaSample(page);
    assert.equal(s.requests, 42);
    assert.equal(s.errors, 2);
    assert.deepEqual(s.buckets.at(-1), [Number.POSITIVE_INFINITY, 42]);
  });

  it('interpolates quantiles inside buckets, as histogram_quantile does', () => {
    const buckets: [number, number][] = [
      [0.01, 50],
      [0.02, 100],
      [Number.POSITIVE_INFINITY, 100],
    ];
    assert.equal(histogramQuantile(0.5, buckets), 0.01);
    assert.ok(Math.abs(histogramQuantile(0.75, buckets) - 0.015) < 1e-9);
    assert.ok(Number.isNaN(histogramQuantile(0.5, [[Number.POSITIVE_INFINITY, 0]])));
    assert.equal(
      histogramQuantile(0.99, [
        [0.1, 1],
        [Number.POSITIVE_INFINITY, 100],
      ]),
      0.1,
      'in the +Inf bucket: the last finite bound',
    );
  });

  it('turns two samples into rates, error ratio, latency and CPU of the window between them', () => {
    const earlier = readReplicaSample(grpcPage(100, 0, { '0.001': 100, '0.01': 100, '+Inf': 100 }, 1), 0);
    const later = readReplicaSample(grpcPage(290, 10, { '0.001': 100, '0.01': 300, '+Inf': 300 }, 1.5), 2000);
    const stats = windowStats([sampleDelta(earlier, later)]);
    assert.equal(stats.rate, 100, '200 calls in 2 s');
    assert.equal(stats.errorRatio, 0.05);
    assert.ok(stats.p50Ms > 1 && stats.p50Ms < 10, `every call of the window took 1–10 ms: p50 ${stats.p50Ms}`);
    assert.equal(stats.cpuCores, 0.25);
  });

  it('adds the replicas of a service up', () => {
    const a = sampleDelta(
      readReplicaSample(grpcPage(0, 0, { '+Inf': 0 }, 0), 0),
      readReplicaSample(grpcPage(100, 0, { '+Inf': 100 }, 1), 1000),
    );
    const b = sampleDelta(
      readReplicaSample(grpcPage(0, 0, { '+Inf': 0 }, 0), 0),
      readReplicaSample(grpcPage(50, 0, { '+Inf': 50 }, 0.5), 1000),
    );
    const stats = windowStats([a, b]);
    assert.equal(stats.rate, 150);
    assert.equal(stats.cpuCores, 1.5);
    assert.equal(windowStats([]).rate, 0);
  });
});
