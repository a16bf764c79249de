// k6 over gRPC, straight to recommendations (no gateway): k6 run -e TARGET=127.0.0.1:50051 -e RATE=100 loadtests/k6/grpc-recommendations.js
// In Kubernetes the Service is headless and internal: kubectl -n strata port-forward deploy/recommendations 50051:50051
import grpc from 'k6/net/grpc';
import { check } from 'k6';
import exec from 'k6/execution';
import { productId } from '../scenarios.js';
import { grpcOptions, summaryTo } from './lib/options.js';

const TARGET = __ENV.TARGET || '127.0.0.1:50051';
const client = new grpc.Client();
client.load(['../../proto'], 'strata/recommendations/v1/recommendations.proto');

export const options = grpcOptions('grpc-recommendations');

export default function () {
  if (exec.vu.iterationInScenario === 0) client.connect(TARGET, { plaintext: true, timeout: '5s' });
  const i = exec.scenario.iterationInTest;
  const response = client.invoke(
    'strata.recommendations.v1.RecommendationsService/GetRecommendations',
    { productId: productId(i), limit: 10 },
    { timeout: '2s', metadata: { 'x-request-id': `k6-${i}` } },
  );
  check(response, { 'status is OK': (r) => r && r.status === grpc.StatusOK });
}

export const handleSummary = summaryTo('grpc-recommendations');
