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
      /lines\[0\]\.quantity: must be a whole number from 1 to 1000, got 1\.5$/,
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
      /lines\[1\]\.productId: 'p-000001' appears twice; put the whole quantity on one line$/,
    );
  });

  it('parses exactly the valid bodies (against an oracle written apart from the schemas), each into itself; refuses the rest with invalid_argument', () => {
    // The oracle: the rules of the API as its README states them, written without zod. A parser that accepted
    // everything (or returned something other than what it was given) fails here.
    const EMAILS = { valid: ['ada@example.com', 'a.b+c@shop.example.org'], invalid: ['not-an-email', 'ada@', '@example.com', 'a b@c.de'] };
    const plain = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
    const onlyKeys = (v: Record<string, unknown>, keys: string[]) => Object.keys(v).every((k) => keys.includes(k));
    const validLine = (l: unknown) =>
      plain(l) &&
      onlyKeys(l, ['productId', 'quantity']) &&
      typeof l.productId === 'string' &&
      /^p-\d{6}$/.test(l.productId) &&
      Number.isInteger(l.quantity) &&
      (l.quantity as number) >= 1 &&
      (l.quantity as number) <= 1000;
    const optional = (v: unknown, pattern: RegExp) => v === undefined || (typeof v === 'string' && pattern.test(v));
    const oracle = (kind: 'quote' | 'order', v: unknown): boolean => {
      if (!plain(v)) return false;
      const keys = ['lines', 'currency', 'country', 'promotionCode', ...(kind === 'order' ? ['customerEmail'] : [])];
      if (!onlyKeys(v, keys) || !Array.isArray(v.lines)) return false;
      const max = kind === 'order' ? 50 : 100;
      if (v.lines.length < 1 || v.lines.length > max || !v.lines.every(validLine)) return false;
      if (kind === 'order' && new Set(v.lines.map((l: { productId: string }) => l.productId)).size !== v.lines.length) return false;
      if (kind === 'order' && v.customerEmail !== undefined && !EMAILS.valid.includes(v.customerEmail as string)) return false;
      return (
        optional(v.currency, /^[A-Za-z]{3}$/) && optional(v.country, /^[A-Za-z]{2}$/) && optional(v.promotionCode, /^[A-Za-z0-9]{1,32}$/)
      );
    };
    // Near-valid bodies (a valid one, often with one thing changed), so that both outcomes occur often, and any JSON.
    const goodLine = fc.record({
      productId: fc.integer({ min: 0, max: 999_999 }).map((n) => `p-${String(n).padStart(6, '0')}`),
      quantity: fc.integer({ min: 1, max: 1000 }),
    });
    const validBody = fc.record(
      {
        lines: fc.uniqueArray(goodLine, { minLength: 1, maxLength: 3, selector: (l) => l.productId }),
        currency: fc.constantFrom('EUR', 'usd'),
        country: fc.constantFrom('DE', 'fr'),
        promotionCode: fc.constantFrom('SPRING10', 'a'.repeat(32)),
        customerEmail: fc.constantFrom(...EMAILS.valid),
      },
      { requiredKeys: ['lines'] },
    );
    type Body = Record<string, unknown> & { lines: Record<string, unknown>[] };
    const set = (key: string, values: unknown[]) => fc.constantFrom(...values).map((v) => (b: Body) => ({ ...b, [key]: v }));
    const onLine = (change: (l: Record<string, unknown>) => Record<string, unknown>) => (b: Body) => ({
      ...b,
      lines: b.lines.map((l, i) => (i === b.lines.length - 1 ? change(l) : l)),
    });
    const mutation = fc.oneof(
      fc.constantFrom(0, -1, 1001, 1.5, '2', null).map((q) => onLine((l) => ({ ...l, quantity: q }))),
      fc.constantFrom('p-1', 'P-000001', 'p-0000001', '', 42).map((id) => onLine((l) => ({ ...l, productId: id }))),
      fc.constant(onLine((l) => ({ ...l, quantitiy: 2 }))),
      fc.constant(onLine(({ productId }) => ({ productId }))),
      fc.constant((b: Body) => ({ ...b, lines: [...b.lines, b.lines[0]] })),
      fc.integer({ min: 48, max: 102 }).map((n) => (b: Body) => ({
        ...b,
        lines: Array.from({ length: n }, (_, i) => ({ productId: `p-${String(i).padStart(6, '0')}`, quantity: 1 })),
      })),
      set('lines', [[], {}, null]),
      set('currency', ['EURO', '€€€', '']),
      set('country', ['DEU', '']),
      set('promotionCode', ['a'.repeat(33), 'bad code!', '']),
      set('customerEmail', EMAILS.invalid),
      set('coupon', ['X']),
    );
    const nearValid = fc.oneof(
      validBody,
      fc.tuple(validBody, mutation).map(([b, change]) => change(b as Body)),
    );
    const outcomes = { quote: { parsed: 0, refused: 0 }, order: { parsed: 0, refused: 0 } };
    fc.assert(
      fc.property(fc.oneof({ weight: 3, arbitrary: nearValid }, fc.jsonValue()), (value) => {
        for (const [kind, schema] of [
          ['quote', quoteBody],
          ['order', orderBody],
        ] as const) {
          const valid = oracle(kind, value);
          let parsed: unknown;
          try {
            parsed = parseInput(schema, value, 'body');
          } catch (error) {
            assert.ok(error instanceof DomainError && error.kind === 'invalid_argument', `${kind}: threw ${String(error)}`);
            assert.ok(error.field && error.message.startsWith(`${error.field}: `), `${kind}: "${error.message}" names the field`);
            assert.equal(valid, false, `${kind}: refused a valid body ${JSON.stringify(value)}: ${error.message}`);
            outcomes[kind].refused++;
            continue;
          }
          assert.equal(valid, true, `${kind}: accepted an invalid body ${JSON.stringify(value)}`);
          const json = (v: unknown) => JSON.parse(JSON.stringify(v)) as unknown; // fast-check makes null-prototype objects
          assert.deepEqual(json(parsed), json(value), `${kind}: parsed into something other than the body`);
          outcomes[kind].parsed++;
        }
      }),
      { numRuns: 2_000 },
    );
    for (const kind of ['quote', 'order'] as const)
      assert.ok(
        outcomes[kind].parsed > 100 && outcomes[kind].refused > 100,
        `${kind}: both outcomes were tried: ${JSON.stringify(outcomes)}`,
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
