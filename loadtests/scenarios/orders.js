// Scenarios orders (and its database) limits. ctx.runId makes idempotency keys unique per run; ctx.orderId names an
// order to read back.

import { get, postJson, productId } from './common.js';

export const order = {
  protocol: 'http',
  layer: 'orders',
  description: 'place an order with a fresh Idempotency-Key',
  request: (i, ctx) =>
    postJson(
      '/api/orders',
      'POST /api/orders',
      { lines: [{ productId: productId(i), quantity: 1 + (i % 3) }], country: 'DE' },
      { 'idempotency-key': `load-${ctx.runId}-${i}` },
    ),
};

export const orderRead = {
  protocol: 'http',
  layer: 'orders',
  description: 'read one order back',
  request: (_i, ctx) => get(`/api/orders/${ctx.orderId}`, 'GET /api/orders/:id'),
};

export const grpcPlaceOrder = {
  protocol: 'grpc',
  layer: 'orders',
  description: 'PlaceOrder with a fresh idempotency key, straight over gRPC (no gateway)',
  service: 'strata.orders.v1.OrdersService',
  method: 'PlaceOrder',
  request: (i, ctx) => ({
    idempotencyKey: `grpc-${ctx.runId}-${i}`,
    lines: [{ productId: productId(i), quantity: 1 }],
    currencyCode: 'EUR',
    countryCode: 'DE',
  }),
};

export const grpcGetOrder = {
  protocol: 'grpc',
  layer: 'orders',
  description: 'GetOrder straight over gRPC (no gateway)',
  service: 'strata.orders.v1.OrdersService',
  method: 'GetOrder',
  request: (_i, ctx) => ({ id: ctx.orderId }),
};
