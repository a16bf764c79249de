import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { QuoteLine } from '@strata/contracts/pricing/v1';
import { CURRENCIES } from './currencies.js';
import { applyBasisPoints, divideHalfEven } from './money-math.js';
import { calculateQuote, convert } from './quote-calculator.js';

const eur = (minorUnits: number) => ({ currencyCode: 'EUR', minorUnits });
const line = (quantity: number, cents: number, category = 'kitchen'): QuoteLine => ({
  productId: 'p-000001',
  category,
  quantity,
  unitPrice: eur(cents),
});

describe('divideHalfEven', () => {
  it('rounds halves to the even neighbour and everything else to the nearest', () => {
    assert.equal(divideHalfEven(25n, 10n), 2n); // 2.5 → 2
    assert.equal(divideHalfEven(35n, 10n), 4n); // 3.5 → 4
    assert.equal(divideHalfEven(26n, 10n), 3n);
    assert.equal(divideHalfEven(24n, 10n), 2n);
    assert.equal(divideHalfEven(-25n, 10n), -2n);
    assert.equal(applyBasisPoints(1999n, 1900), 380n); // 379.81 → 380
  });

  it('is never more than half a unit away from the exact quotient', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(10n ** 15n), max: 10n ** 15n }), fc.bigInt({ min: 1n, max: 10n ** 9n }), (n, d) => {
        const q = divideHalfEven(n, d);
        const error = q * d - n; // (q - n/d) scaled by d
        return 2n * (error < 0n ? -error : error) <= d;
      }),
    );
  });
});

describe('calculateQuote', () => {
  it('computes tax on the discounted line total (documented example)', () => {
    // 3 × 19.99 EUR = 59.97; SAVE10: 5.997 → 6.00; tax DE 19 % of 53.97 = 10.2543 → 10.25
    const quote = calculateQuote({ lines: [line(3, 1999)], currencyCode: 'EUR', promotionCode: 'SAVE10', countryCode: 'DE' });
    assert.deepEqual(quote.subtotal, eur(5997));
    assert.deepEqual(quote.discount, eur(600));
    assert.deepEqual(quote.tax, eur(1025));
    assert.deepEqual(quote.total, eur(5997 - 600 + 1025));
    assert.deepEqual(quote.appliedPromotions, ['SAVE10']);
    assert.equal(quote.taxRateBasisPoints, 1900);
  });

  it('applies category and quantity promotions only to the lines they target', () => {
    const quote = calculateQuote({
      lines: [line(1, 1000, 'books'), line(1, 1000, 'toys')],
      currencyCode: '',
      promotionCode: 'books20',
      countryCode: 'US',
    });
    assert.deepEqual(
      quote.lines.map((l) => l.discount!.minorUnits),
      [200, 0],
    );
    const bulk = calculateQuote({ lines: [line(10, 100), line(9, 100)], currencyCode: '', promotionCode: 'BULK5', countryCode: 'US' });
    assert.deepEqual(
      bulk.lines.map((l) => l.discount!.minorUnits),
      [50, 0],
    );
  });

  it('converts to currencies with other minor units (JPY has none)', () => {
    const quote = calculateQuote({ lines: [line(1, 1000)], currencyCode: 'JPY', promotionCode: '', countryCode: 'JP' });
    assert.deepEqual(quote.lines[0]!.unitPrice, { currencyCode: 'JPY', minorUnits: 1620 }); // 10 EUR × 162
    assert.equal(convert(1n, CURRENCIES.EUR!, CURRENCIES.USD!), 1n); // 1.08 cents → 1
    assert.equal(convert(1000n, CURRENCIES.USD!, CURRENCIES.EUR!), 926n); // 10 USD / 1.08 = 9.259…
  });

  it('totals always equal the sum of the lines, in any currency', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            quantity: fc.integer({ min: 1, max: 1000 }),
            cents: fc.integer({ min: 0, max: 10_000_000 }),
            category: fc.constantFrom('books', 'toys'),
          }),
          { minLength: 1, maxLength: 20 },
        ),
        fc.constantFrom('EUR', 'USD', 'JPY', 'SEK'),
        fc.constantFrom('', 'SAVE10', 'BOOKS20', 'BULK5'),
        fc.constantFrom('DE', 'US', 'CH'),
        (lines, currencyCode, promotionCode, countryCode) => {
          const q = calculateQuote({
            lines: lines.map((l) => line(l.quantity, l.cents, l.category)),
            currencyCode,
            promotionCode,
            countryCode,
          });
          const sum = (pick: (l: (typeof q.lines)[number]) => number) => q.lines.reduce((acc, l) => acc + pick(l), 0);
          return (
            q.subtotal!.minorUnits === sum((l) => l.lineTotal!.minorUnits) &&
            q.discount!.minorUnits === sum((l) => l.discount!.minorUnits) &&
            q.tax!.minorUnits === sum((l) => l.tax!.minorUnits) &&
            q.total!.minorUnits === q.subtotal!.minorUnits - q.discount!.minorUnits + q.tax!.minorUnits &&
            q.lines.every((l) => l.discount!.minorUnits <= l.lineTotal!.minorUnits && l.tax!.minorUnits >= 0)
          );
        },
      ),
    );
  });

  it('refuses bad input with the field named', () => {
    const base = { currencyCode: 'EUR', promotionCode: '', countryCode: 'DE' };
    assert.throws(() => calculateQuote({ ...base, lines: [] }), /lines: a quote needs 1 to 100 lines/);
    assert.throws(() => calculateQuote({ ...base, lines: [line(0, 100)] }), /lines\[0\]\.quantity/);
    assert.throws(() => calculateQuote({ ...base, lines: [line(1, -5)] }), /lines\[0\]\.unitPrice\.minorUnits/);
    assert.throws(() => calculateQuote({ ...base, currencyCode: 'XYZ', lines: [line(1, 5)] }), /currencyCode: unsupported currency 'XYZ'/);
    assert.throws(() => calculateQuote({ ...base, countryCode: 'ZZ', lines: [line(1, 5)] }), /countryCode/);
    assert.throws(() => calculateQuote({ ...base, promotionCode: 'FREE', lines: [line(1, 5)] }), /unknown promotion 'FREE'/);
  });
});
