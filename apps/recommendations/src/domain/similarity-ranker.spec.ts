import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { Product } from '@strata/contracts/catalog/v1';
import { featureVector, rankSimilar } from './similarity-ranker.js';

const product = (id: string, attributes: Record<string, string>, category = 'kitchen', cents = 1999, tags: string[] = []): Product => ({
  id,
  name: `${attributes.brand ?? ''} ${attributes.color ?? ''} kettle`,
  description: '',
  category,
  price: { currencyCode: 'EUR', minorUnits: cents },
  tags,
  attributes,
});
const arbProduct = fc
  .record({
    id: fc.integer({ min: 1, max: 999_999 }).map((n) => `p-${String(n).padStart(6, '0')}`),
    brand: fc.constantFrom('Acme', 'Ember', 'Fjord'),
    color: fc.constantFrom('red', 'blue', 'green'),
    material: fc.constantFrom('wood', 'steel'),
    cents: fc.integer({ min: 0, max: 100_000 }),
  })
  .map((p) => product(p.id, { brand: p.brand, color: p.color, material: p.material }, 'kitchen', p.cents));

describe('featureVector', () => {
  it('is a unit vector with no negative entries', () => {
    fc.assert(
      fc.property(arbProduct, (p) => {
        const v = featureVector(p, 64);
        const norm = Math.sqrt(v.reduce((a, x) => a + x * x, 0));
        return Math.abs(norm - 1) < 1e-9 && v.every((x) => x >= 0);
      }),
    );
  });
});

describe('rankSimilar', () => {
  const target = product('p-000001', { brand: 'Acme', color: 'red', material: 'steel', style: 'retro' });
  const twin = product('p-000002', { brand: 'Acme', color: 'red', material: 'steel', style: 'retro' });
  const cousin = product('p-000003', { brand: 'Acme', color: 'blue', material: 'steel', style: 'retro' });
  const stranger = product('p-000004', { brand: 'Fjord', color: 'green', material: 'wood', style: 'minimal' }, 'books', 99_999, ['gift']);

  it('puts the most similar first, never returns the product itself, and scores within 0..1', () => {
    const ranked = rankSimilar(target, [stranger, cousin, twin, target], 3, 256, 0);
    assert.deepEqual(
      ranked.map((r) => r.product.id),
      ['p-000002', 'p-000003', 'p-000004'],
    );
    assert.ok(Math.abs(ranked[0]!.score - 1) < 1e-9, 'an identical product scores 1');
    assert.ok(ranked.every((r) => r.score >= 0 && r.score <= 1));
  });

  it('without diversity, equals the top-k by cosine similarity (checked by brute force)', () => {
    fc.assert(
      fc.property(
        arbProduct,
        fc.uniqueArray(arbProduct, { selector: (p) => p.id, maxLength: 30 }),
        fc.integer({ min: 1, max: 10 }),
        (t, candidates, k) => {
          const ranked = rankSimilar(t, candidates, k, 128, 0);
          const expected = candidates
            .filter((c) => c.id !== t.id)
            .map((c) => ({ id: c.id, score: featureVector(t, 128).reduce((a, x, i) => a + x * featureVector(c, 128)[i]!, 0) }))
            .sort((a, b) => b.score - a.score || a.id.localeCompare(b.id))
            .slice(0, k);
          return ranked.length === expected.length && ranked.every((r, i) => Math.abs(r.score - expected[i]!.score) < 1e-9);
        },
      ),
      { numRuns: 50 },
    );
  });

  it('with diversity, prefers a different product over a second copy of the first pick', () => {
    const copy = product('p-000005', { brand: 'Acme', color: 'red', material: 'steel', style: 'retro' });
    const plain = rankSimilar(target, [twin, copy, cousin], 2, 256, 0).map((r) => r.product.id);
    const diverse = rankSimilar(target, [twin, copy, cousin], 2, 256, 0.7).map((r) => r.product.id);
    assert.deepEqual(plain, ['p-000002', 'p-000005']);
    assert.deepEqual(diverse, ['p-000002', 'p-000003']);
  });
});
