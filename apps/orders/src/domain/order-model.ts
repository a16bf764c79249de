import type { Order, PlaceOrderRequest } from '@strata/contracts/orders/v1';
import { createHash } from 'node:crypto';
import { invalidArgument } from '@strata/domain-errors';

export const MAX_ORDER_LINES = 50;
export const MAX_QUANTITY = 1000;
export const IDEMPOTENCY_KEY_PATTERN = /^[A-Za-z0-9_-]{8,128}$/;
const EMAIL_PATTERN = /^[^\s@]{1,64}@[^\s@]{1,185}\.[^\s@]{2,63}$/;
const ORDER_ID_PATTERN = /^o-[0-9a-f-]{36}$/;

/** A validated, normalised order request: what the idempotency key is bound to. */
export interface OrderIntent {
  idempotencyKey: string;
  lines: { productId: string; quantity: number }[];
  currencyCode: string;
  promotionCode: string;
  countryCode: string;
  customerEmail: string;
}

/** Checks a PlaceOrder request field by field and returns its normal form. */
export function validateOrderRequest(request: PlaceOrderRequest): OrderIntent {
  if (!IDEMPOTENCY_KEY_PATTERN.test(request.idempotencyKey)) {
    throw invalidArgument('idempotency_key', 'must be 8 to 128 characters of letters, digits, "-" or "_" (a UUID works)');
  }
  if (request.lines.length === 0 || request.lines.length > MAX_ORDER_LINES) {
    throw invalidArgument('lines', `an order needs 1 to ${MAX_ORDER_LINES} lines, got ${request.lines.length}`);
  }
  const seen = new Set<string>();
  request.lines.forEach((line, i) => {
    if (!line.productId) throw invalidArgument(`lines[${i}].product_id`, 'is required');
    if (seen.has(line.productId))
      throw invalidArgument(`lines[${i}].product_id`, `'${line.productId.slice(0, 40)}' appears twice; put the whole quantity on one line`);
    seen.add(line.productId);
    if (!Number.isInteger(line.quantity) || line.quantity < 1 || line.quantity > MAX_QUANTITY) {
      throw invalidArgument(`lines[${i}].quantity`, `must be a whole number from 1 to ${MAX_QUANTITY}, got ${line.quantity}`);
    }
  });
  if (request.customerEmail && !EMAIL_PATTERN.test(request.customerEmail)) {
    throw invalidArgument('customer_email', 'is not an e-mail address');
  }
  return {
    idempotencyKey: request.idempotencyKey,
    lines: request.lines.map((l) => ({ productId: l.productId, quantity: l.quantity })),
    currencyCode: (request.currencyCode || 'EUR').toUpperCase(),
    promotionCode: request.promotionCode.toUpperCase(),
    countryCode: (request.countryCode || 'DE').toUpperCase(),
    customerEmail: request.customerEmail,
  };
}

/** SHA-256 of the intent without its key: equal for a retry of the same order, different for another order. */
export function intentFingerprint(intent: OrderIntent): string {
  const { idempotencyKey: _key, ...body } = intent;
  return createHash('sha256').update(JSON.stringify(body)).digest('hex');
}

export function checkOrderId(id: string): void {
  if (!ORDER_ID_PATTERN.test(id)) throw invalidArgument('id', `'${id.slice(0, 40)}' is not an order id (expected o-<uuid>)`);
}

export type { Order };
