import { lineProblems, type LineRules, type Problem } from './lines.js';

export type { Problem } from './lines.js';

/**
 * The rules of strata.pricing.v1.PricingService/Quote's lines (proto/strata/pricing/v1/pricing.proto): the gateway
 * checks them before it calls, pricing when it is called, both with this code. A product may be quoted on two lines.
 */
export const QUOTE_LINES: LineRules = { noun: 'a quote', maxLines: 100, maxQuantity: 1000, distinctProducts: false };

/** Every problem of a Quote request's lines; empty when they keep the rules. */
export function quoteLineProblems(lines: readonly { productId: string; quantity: number }[]): Problem[] {
  return lineProblems(QUOTE_LINES, lines);
}
