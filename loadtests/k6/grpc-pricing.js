// k6 over gRPC, straight to pricing (no gateway): k6 run -e TARGET=127.0.0.1:50051 -e RATE=100 loadtests/k6/grpc-pricing.js
// In Kubernetes the Service is headless and internal: kubectl -n strata port-forward deploy/pricing 50051:50051
import grpc from 'k6/net/grpc';
import { check } from 'k6';
import exec from 'k6/execution';
import { productId } from '../scenarios.js';
import { grpcOptions, summaryTo } from './lib/options.js';

const TARGET = __ENV.TARGET || '127.0.0.1:50051';
const client = new grpc.Client();
client.load(['../../proto'], 'strata/pricing/v1/pricing.proto');

export const options = grpcOptions('grpc-pricing');

export default function () {
  if (exec.vu.iterationInScenario === 0) client.connect(TARGET, { plaintext: true, timeout: '5s' });
  const i = exec.scenario.iterationInTest;
  const response = client.invoke(
    'strata.pricing.v1.PricingService/Quote',
    {
      lines: [{ productId: productId(i), category: 'books', quantity: 1 + (i % 5), unitPrice: { currencyCode: 'EUR', minorUnits: 1999 } }],
      currencyCode: 'USD',
      promotionCode: 'SAVE10',
      countryCode: 'FR',
    },
    { timeout: '2s', metadata: { 'x-request-id': `k6-${i}` } },
  );
  check(response, { 'status is OK': (r) => r && r.status === grpc.StatusOK });
}

export const handleSummary = summaryTo('grpc-pricing');
