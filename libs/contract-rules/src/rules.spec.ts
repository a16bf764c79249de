import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { placeOrderProblems } from './orders-v1.js';
import { quoteLineProblems } from './pricing-v1.js';

type Line = { productId: string; quantity: number };

describe("the contracts' rules", () => {
  it('refuse exactly what the contracts refuse (against an oracle written apart), naming the first field at fault', () => {
    // The oracle: proto/strata/orders/v1 and pricing/v1 as their comments state the rules, written without lineProblems.
    const quantityOk = (q: number) => Number.isInteger(q) && q >= 1 && q <= 1000;
    const orderOk = (key: string, lines: Line[]) =>
      /^[A-Za-z0-9_-]{8,128}$/.test(key) &&
      lines.length >= 1 &&
      lines.length <= 50 &&
      lines.every((l) => l.productId !== '' && quantityOk(l.quantity)) &&
      new Set(lines.map((l) => l.productId)).size === lines.length;
    const quoteOk = (lines: Line[]) =>
      lines.length >= 1 && lines.length <= 100 && lines.every((l) => l.productId !== '' && quantityOk(l.quantity));
    const line = fc.record({
      productId: fc.constantFrom('p-000001', 'p-000002', 'p-000003', ''),
      quantity: fc.oneof(fc.integer({ min: -2, max: 1002 }), fc.double(), fc.constant(Number.MAX_SAFE_INTEGER + 2)),
    });
    const goodLine = fc.record({
      productId: fc.constantFrom('p-000001', 'p-000002', 'p-000003'),
      quantity: fc.integer({ min: 1, max: 1000 }),
    });
    const lines = fc.oneof(
      { weight: 3, arbitrary: fc.uniqueArray(goodLine, { minLength: 1, maxLength: 3, selector: (l) => l.productId }) },
      fc.array(line, { maxLength: 4 }),
      fc.array(fc.constant({ productId: 'p-1', quantity: 1 }), { minLength: 49, maxLength: 102 }),
    );
    const key = fc.oneof({ weight: 4, arbitrary: fc.uuid() }, fc.string({ maxLength: 12 }), fc.constant('k'.repeat(129)));
    const seen = { order: [0, 0], quote: [0, 0] };
    fc.assert(
      fc.property(key, lines, (idempotencyKey, ls) => {
        const order = placeOrderProblems({ idempotencyKey, lines: ls });
        assert.equal(order.length === 0, orderOk(idempotencyKey, ls), JSON.stringify({ idempotencyKey, ls, order }));
        const quote = quoteLineProblems(ls);
        assert.equal(quote.length === 0, quoteOk(ls), JSON.stringify({ ls, quote }));
        seen.order[order.length === 0 ? 0 : 1]!++;
        seen.quote[quote.length === 0 ? 0 : 1]!++;
        for (const p of [...order, ...quote]) assert.match(p.field, /^(idempotencyKey|lines(\[\d+\]\.(productId|quantity))?)$/);
      }),
      { numRuns: 3_000 },
    );
    assert.ok(seen.order.every((n) => n > 50) && seen.quote.every((n) => n > 50), `both outcomes occur: ${JSON.stringify(seen)}`);
  });

  it('say what is wrong and what is allowed', () => {
    assert.deepEqual(
      placeOrderProblems({
        idempotencyKey: 'short',
        lines: [
          { productId: 'p-000001', quantity: 1001 },
          { productId: 'p-000001', quantity: 1 },
        ],
      }),
      [
        { field: 'idempotencyKey', message: 'must be 8 to 128 characters of letters, digits, "-" or "_" (a UUID works)' },
        { field: 'lines[0].quantity', message: 'must be a whole number from 1 to 1000, got 1001' },
        { field: 'lines[1].productId', message: "'p-000001' appears twice; put the whole quantity on one line" },
      ],
    );
    assert.deepEqual(quoteLineProblems([]), [{ field: 'lines', message: 'a quote needs 1 to 100 lines, got 0' }]);
  });
});
