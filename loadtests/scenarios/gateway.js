// Scenarios the edge (gateway) limits. Each scenario: `protocol` (http through the gateway, or grpc straight to a
// service), the `layer` whose capacity limits it, and `request(i, ctx)` building the i-th request.

import { productId } from './common.js';

export const product = {
  protocol: 'http',
  layer: 'gateway',
  description: 'get one product (the gateway does more work than catalog: HTTP, JSON, validation, one gRPC call)',
  request: (i) => ({ method: 'GET', path: `/api/products/${productId(i)}`, name: 'GET /api/products/:id' }),
};
