import type { Money } from '@strata/contracts/common/v1';
import type { PricedLine, QuoteRequest, QuoteResponse } from '@strata/contracts/pricing/v1';
import { quoteLineProblems } from '@strata/contract-rules/pricing/v1';
import { invalidArgument } from '@strata/domain-errors';
import { CURRENCIES, TAX_RATES, type Currency } from './currencies.js';
import { applyBasisPoints, divideHalfEven } from './money-math.js';
import { PROMOTIONS } from './promotions.js';

/** 100 million EUR in cents: far above any product, far below where int64 → number loses precision. */
export const MAX_UNIT_MINOR_UNITS = 10_000_000_000;
export const DEFAULT_CURRENCY = 'EUR';
export const DEFAULT_COUNTRY = 'DE';

/**
 * Computes a quote. The rounding rules, in order, per line:
 * 1. the unit price is converted to the quote currency (rate table, half-even to the minor unit);
 * 2. line total = converted unit price × quantity (exact);
 * 3. discount = line total × promotion basis points / 10 000, half-even;
 * 4. tax = (line total − discount) × tax basis points / 10 000, half-even.
 * Totals are the sums of the line figures, so a quote always adds up to the cent.
 */
export function calculateQuote(request: QuoteRequest): QuoteResponse {
  const currency = lookupCurrency('currencyCode', request.currencyCode || DEFAULT_CURRENCY);
  const country = (request.countryCode || DEFAULT_COUNTRY).toUpperCase();
  const taxRate = TAX_RATES[country];
  if (taxRate === undefined) {
    throw invalidArgument('countryCode', `no tax rate for '${country.slice(0, 8)}'; supported: ${Object.keys(TAX_RATES).join(', ')}`);
  }
  const promotion = request.promotionCode ? PROMOTIONS[request.promotionCode.toUpperCase()] : undefined;
  if (request.promotionCode && !promotion) {
    throw invalidArgument(
      'promotionCode',
      `unknown promotion '${request.promotionCode.slice(0, 32)}'; valid codes: ${Object.keys(PROMOTIONS).join(', ')}`,
    );
  }
  // The lines' rules are the contract's (@strata/contract-rules), the same code the gateway checks them with.
  const [problem] = quoteLineProblems(request.lines);
  if (problem) throw invalidArgument(problem.field, problem.message);

  let promotionUsed = false;
  const totals = { subtotal: 0n, discount: 0n, tax: 0n };
  const lines: PricedLine[] = request.lines.map((line, i) => {
    const field = `lines[${i}]`;
    const price = line.unitPrice;
    if (!price) throw invalidArgument(`${field}.unitPrice`, 'is required');
    if (!Number.isSafeInteger(price.minorUnits) || price.minorUnits < 0 || price.minorUnits > MAX_UNIT_MINOR_UNITS) {
      throw invalidArgument(`${field}.unitPrice.minorUnits`, `must be a whole number from 0 to ${MAX_UNIT_MINOR_UNITS}`);
    }
    const from = lookupCurrency(`${field}.unitPrice.currencyCode`, price.currencyCode);
    const unit = convert(BigInt(price.minorUnits), from, currency);
    const lineTotal = unit * BigInt(line.quantity);
    const applies = promotion?.appliesTo({ category: line.category, quantity: line.quantity }) ?? false;
    const discount = applies ? applyBasisPoints(lineTotal, promotion!.basisPoints) : 0n;
    const tax = applyBasisPoints(lineTotal - discount, taxRate);
    promotionUsed ||= applies;
    totals.subtotal += lineTotal;
    totals.discount += discount;
    totals.tax += tax;
    return {
      productId: line.productId,
      quantity: line.quantity,
      unitPrice: money(unit, currency),
      lineTotal: money(lineTotal, currency),
      discount: money(discount, currency),
      tax: money(tax, currency),
    };
  });

  return {
    lines,
    subtotal: money(totals.subtotal, currency),
    discount: money(totals.discount, currency),
    tax: money(totals.tax, currency),
    total: money(totals.subtotal - totals.discount + totals.tax, currency),
    appliedPromotions: promotionUsed ? [promotion!.code] : [],
    taxRateBasisPoints: taxRate,
  };
}

/** Converts minor units between currencies through the EUR rate table, half-even to the target's minor unit. */
export function convert(amount: bigint, from: Currency, to: Currency): bigint {
  if (from.code === to.code) return amount;
  const numerator = amount * to.microRatePerEur * 10n ** BigInt(to.exponent);
  const denominator = from.microRatePerEur * 10n ** BigInt(from.exponent);
  return divideHalfEven(numerator, denominator);
}

function lookupCurrency(field: string, code: string): Currency {
  const currency = CURRENCIES[code.toUpperCase()];
  if (!currency)
    throw invalidArgument(field, `unsupported currency '${code.slice(0, 8)}'; supported: ${Object.keys(CURRENCIES).join(', ')}`);
  return currency;
}

function money(minorUnits: bigint, currency: Currency): Money {
  if (minorUnits > BigInt(Number.MAX_SAFE_INTEGER)) throw invalidArgument('lines', 'the quote total is too large to represent');
  return { currencyCode: currency.code, minorUnits: Number(minorUnits) };
}
