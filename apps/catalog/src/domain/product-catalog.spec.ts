import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { DomainError } from '@strata/domain-errors';
import { CATEGORY_NAMES, generateCatalog } from './catalog-data.js';
import { ProductCatalog } from './product-catalog.js';

const products = generateCatalog(10_000, 42);
const catalog = new ProductCatalog(products);

describe('generateCatalog', () => {
  it('is deterministic for a seed and differs across seeds', () => {
    assert.deepEqual(generateCatalog(50, 7), generateCatalog(50, 7));
    assert.notDeepEqual(generateCatalog(50, 7), generateCatalog(50, 8));
  });

  it('makes 10,000 products with every category, attributes and a price in EUR minor units', () => {
    assert.equal(catalog.size, 10_000);
    assert.deepEqual(catalog.categories, [...CATEGORY_NAMES].sort());
    const product = catalog.getProduct('p-000001');
    assert.ok(Number.isInteger(product.price!.minorUnits) && product.price!.minorUnits > 0);
    assert.equal(product.price!.currencyCode, 'EUR');
    assert.deepEqual(Object.keys(product.attributes).sort(), ['brand', 'color', 'material', 'size', 'style']);
  });
});

describe('ProductCatalog', () => {
  it('gets a product, refuses malformed ids and reports unknown ones as not found', () => {
    assert.equal(catalog.getProduct('p-000042').id, 'p-000042');
    assert.throws(
      () => catalog.getProduct('p-999999'),
      (e: DomainError) => e.kind === 'not_found',
    );
    assert.throws(
      () => catalog.getProduct('42'),
      (e: DomainError) => e.kind === 'invalid_argument' && e.field === 'id',
    );
  });

  it('batch-gets in request order and lists the missing ids', () => {
    const result = catalog.batchGet(['p-000003', 'p-999999', 'p-000001']);
    assert.deepEqual(
      result.products.map((p) => p.id),
      ['p-000003', 'p-000001'],
    );
    assert.deepEqual(result.missingIds, ['p-999999']);
    assert.throws(() => catalog.batchGet(Array.from({ length: 101 }, () => 'p-000001')), /at most 100/);
  });

  it('pages through a search without gaps or repeats, in id order: every page together is what a brute-force filter finds', () => {
    // The oracle: every product of the data set, filtered by a plain loop over the rules (the category, and every query
    // word somewhere in the name, description or tags, case-insensitively), in id order.
    const vocabulary = [...new Set(products.flatMap((p) => `${p.name} ${p.tags.join(' ')}`.toLowerCase().split(/\s+/)))].filter(Boolean);
    const oracle = (query: string, category: string) => {
      const words = query.toLowerCase().split(/\s+/).filter(Boolean);
      return products
        .filter((p) => !category || p.category === category)
        .filter((p) => words.every((w) => [p.name, p.description, ...p.tags].join(' ').toLowerCase().includes(w)))
        .map((p) => p.id)
        .sort();
    };
    const pagesOf = (query: string, category: string, pageSize: number, total: number) => {
      const seen: string[] = [];
      let pageToken = '';
      let pages = 0;
      do {
        const page = catalog.search({ query, category, pageSize, pageToken });
        assert.ok(page.products.length <= pageSize, `a page holds at most ${pageSize}`);
        assert.equal(page.totalSize, total, 'totalSize counts what the filter finds');
        seen.push(...page.products.map((p) => p.id));
        pageToken = page.nextPageToken;
        pages++;
      } while (pageToken && pages < 20_000);
      return { seen, pages };
    };
    let multiPage = 0;
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.constantFrom(...vocabulary), fc.constantFrom('classic', 'CLASSIC', 'zzz-none')), { maxLength: 2 }),
        fc.constantFrom('', ...CATEGORY_NAMES),
        fc.integer({ min: 1, max: 100 }),
        (words, category, pageSize) => {
          const query = words.join(' ');
          const expected = oracle(query, category);
          fc.pre(expected.length / pageSize <= 200); // each page filters the pool again: keep a run under a second
          const { seen, pages } = pagesOf(query, category, pageSize, expected.length);
          assert.deepEqual(seen, expected, `query '${query}' in '${category}' by ${pageSize}`);
          assert.equal(pages, Math.max(1, Math.ceil(expected.length / pageSize)), 'no empty page before the end');
          if (pages > 1) multiPage++;
        },
      ),
      { numRuns: 150 },
    );
    assert.ok(multiPage > 30, `searches spanning several pages: ${multiPage}`);
  });

  it('requires every query word, case-insensitively', () => {
    const page = catalog.search({ query: 'ACME Red', category: '', pageSize: 100, pageToken: '' });
    assert.ok(page.totalSize > 0);
    for (const p of page.products) assert.match(p.name.toLowerCase(), /acme/);
    for (const p of page.products) assert.match(`${p.name} ${p.description}`.toLowerCase(), /red/);
  });

  it('refuses bad page sizes, unknown categories and tokens from another query', () => {
    assert.throws(() => catalog.search({ query: '', category: '', pageSize: 101, pageToken: '' }), /pageSize/);
    assert.throws(() => catalog.search({ query: '', category: 'cars', pageSize: 10, pageToken: '' }), /unknown category 'cars'/);
    const first = catalog.search({ query: '', category: 'books', pageSize: 5, pageToken: '' });
    assert.throws(() => catalog.search({ query: '', category: 'toys', pageSize: 5, pageToken: first.nextPageToken }), /different query/);
    assert.throws(() => catalog.search({ query: '', category: '', pageSize: 5, pageToken: '!!garbage' }), /pageToken/);
  });
});
