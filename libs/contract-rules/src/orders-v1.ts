import { lineProblems, type LineRules, type Problem } from './lines.js';

export type { Problem } from './lines.js';

/**
 * The rules of strata.orders.v1.OrdersService/PlaceOrder (proto/strata/orders/v1/orders.proto states them in its
 * comments): the gateway checks them before it calls, orders when it is called, both with this code.
 */
export const PLACE_ORDER_LINES: LineRules = { noun: 'an order', maxLines: 50, maxQuantity: 1000, distinctProducts: true };

/** An idempotency key: what a client sends once per order and again on each retry of it. */
export const IDEMPOTENCY_KEY = /^[A-Za-z0-9_-]{8,128}$/;
export const IDEMPOTENCY_KEY_RULE = 'must be 8 to 128 characters of letters, digits, "-" or "_" (a UUID works)';

/** Every problem of a PlaceOrder request's lines; empty when they keep the rules. */
export function placeOrderLineProblems(lines: readonly { productId: string; quantity: number }[]): Problem[] {
  return lineProblems(PLACE_ORDER_LINES, lines);
}

/** Every problem of a PlaceOrder request's key and lines; empty when they keep the rules. */
export function placeOrderProblems(request: {
  idempotencyKey: string;
  lines: readonly { productId: string; quantity: number }[];
}): Problem[] {
  const problems: Problem[] = [];
  if (!IDEMPOTENCY_KEY.test(request.idempotencyKey)) problems.push({ field: 'idempotencyKey', message: IDEMPOTENCY_KEY_RULE });
  return [...problems, ...placeOrderLineProblems(request.lines)];
}
