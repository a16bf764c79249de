import type { Order, PlaceOrderRequest } from '@strata/contracts/orders/v1';
import { createHash } from 'node:crypto';
import { placeOrderProblems } from '@strata/contract-rules/orders/v1';
import { invalidArgument } from '@strata/domain-errors';

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

/**
 * Checks a PlaceOrder request field by field and returns its normal form. The key's and the lines' rules are the
 * contract's (@strata/contract-rules), the same code the gateway checks them with.
 */
export function validateOrderRequest(request: PlaceOrderRequest): OrderIntent {
  const [problem] = placeOrderProblems(request);
  if (problem) throw invalidArgument(problem.field, problem.message);
  if (request.customerEmail && !EMAIL_PATTERN.test(request.customerEmail)) {
    throw invalidArgument('customerEmail', 'is not an e-mail address');
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
