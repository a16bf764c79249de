import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { DomainError } from '@strata/domain-errors';
import { idempotencyKey, orderBody, parseInput, quoteBody } from './api-schemas.js';

describe('edge validation', () => {
  it('accepts a well-formed quote and order', () => {
    const quote = parseInput(quoteBody, { lines: [{ productId: 'p-000001', quantity: 2 }], currency: 'USD' }, 'body');
    assert.equal(quote.lines[0]!.quantity, 2);
    assert.ok(parseInput(orderBody, { lines: [{ productId: 'p-000001', quantity: 1 }], customerEmail: 'ada@example.com' }, 'body'));
    assert.equal(parseInput(idempotencyKey, '0b7a9d4e-3c1f-4d2a-9f61-1c2b3a4d5e6f', 'Idempotency-Key').length, 36);
  });

  it('names the field at fault', () => {
    assert.throws(
      () => parseInput(quoteBody, { lines: [{ productId: 'p-000001', quantity: 1.5 }] }, 'body'),
      /body\.lines\[0\]\.quantity: must be a whole number/,
    );
    assert.throws(() => parseInput(quoteBody, { lines: [], extra: 1 }, 'body'), /Unrecognized key: "extra"/);
    assert.throws(
      () =>
        parseInput(
          orderBody,
          {
            lines: [
              { productId: 'p-000001', quantity: 1 },
              { productId: 'p-000001', quantity: 1 },
            ],
          },
          'body',
        ),
      /one line only/,
    );
  });

  it('turns any JSON value into a parsed body or an invalid_argument error, never anything else', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        for (const schema of [quoteBody, orderBody]) {
          try {
            parseInput(schema, value, 'body');
          } catch (error) {
            if (!(error instanceof DomainError) || error.kind !== 'invalid_argument' || error.message.length === 0) return false;
          }
        }
        return true;
      }),
      { numRuns: 2_000 },
    );
  });

  it('refuses quantities outside 1..1000 and non-integers, whatever their size', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.integer({ min: -1e9, max: 0 }),
          fc.integer({ min: 1001, max: 1e9 }),
          fc.double({ noInteger: true }),
          fc.constant(Number.MAX_SAFE_INTEGER + 2),
        ),
        (quantity) => {
          try {
            parseInput(quoteBody, { lines: [{ productId: 'p-000001', quantity }] }, 'body');
            return false;
          } catch (error) {
            return error instanceof DomainError && error.kind === 'invalid_argument' && /lines\[0\]\.quantity/.test(error.message);
          }
        },
      ),
    );
  });
});
