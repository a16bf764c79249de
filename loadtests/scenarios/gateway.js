// Scenarios the edge (gateway) limits. Each scenario: `protocol` (http through the gateway, or grpc straight to a
// service), the `layer` whose capacity limits it, and `request(i, ctx)` building the i-th request.

import { get, productId } from './common.js';

export const product = {
  protocol: 'http',
  layer: 'gateway',
  description: 'get one product (the gateway does more work than catalog: HTTP, JSON, validation, one gRPC call)',
  request: (i) => get(`/api/products/${productId(i)}`, 'GET /api/products/:id'),
};
