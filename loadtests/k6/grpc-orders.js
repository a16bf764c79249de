// k6 over gRPC, straight to orders (no gateway): k6 run -e TARGET=127.0.0.1:50051 -e RATE=100 loadtests/k6/grpc-orders.js
// In Kubernetes the Service is headless and internal: kubectl -n strata port-forward deploy/orders 50051:50051
import grpc from 'k6/net/grpc';
import { check } from 'k6';
import exec from 'k6/execution';
import { productId } from '../scenarios.js';
import { grpcOptions, summaryTo } from './lib/options.js';

const TARGET = __ENV.TARGET || '127.0.0.1:50051';
const RUN_ID = __ENV.RUN_ID || String(Date.now());
const client = new grpc.Client();
client.load(['../../proto'], 'strata/orders/v1/orders.proto');

export const options = grpcOptions('grpc-orders');

export default function () {
  if (exec.vu.iterationInScenario === 0) client.connect(TARGET, { plaintext: true, timeout: '5s' });
  const i = exec.scenario.iterationInTest;
  const response = client.invoke(
    'strata.orders.v1.OrdersService/PlaceOrder',
    {
      idempotencyKey: `k6-grpc-${RUN_ID}-${i}`,
      lines: [{ productId: productId(i), quantity: 1 }],
      currencyCode: 'EUR',
      countryCode: 'DE',
    },
    { timeout: '2s', metadata: { 'x-request-id': `k6-${i}` } },
  );
  check(response, { 'status is OK': (r) => r && r.status === grpc.StatusOK });
}

export const handleSummary = summaryTo('grpc-orders');
