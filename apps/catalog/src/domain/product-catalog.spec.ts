import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DomainError } from '@strata/domain-errors';
import { CATEGORY_NAMES, generateCatalog } from './catalog-data.js';
import { ProductCatalog } from './product-catalog.js';

const catalog = new ProductCatalog(generateCatalog(10_000, 42));

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

  it('pages through a search without gaps or repeats, in id order', () => {
    const seen: string[] = [];
    let pageToken = '';
    let total = -1;
    do {
      const page = catalog.search({ query: 'classic', category: 'kitchen', pageSize: 7, pageToken });
      total = page.totalSize;
      seen.push(...page.products.map((p) => p.id));
      pageToken = page.nextPageToken;
    } while (pageToken);
    assert.ok(total > 7, 'the query should span several pages');
    assert.equal(seen.length, total);
    assert.equal(new Set(seen).size, total);
    assert.deepEqual(seen, [...seen].sort());
    for (const id of seen) {
      const p = catalog.getProduct(id);
      assert.equal(p.category, 'kitchen');
      assert.match(`${p.name} ${p.description} ${p.tags.join(' ')}`.toLowerCase(), /classic/);
    }
  });

  it('requires every query word, case-insensitively', () => {
    const page = catalog.search({ query: 'ACME Red', category: '', pageSize: 100, pageToken: '' });
    assert.ok(page.totalSize > 0);
    for (const p of page.products) assert.match(p.name.toLowerCase(), /acme/);
    for (const p of page.products) assert.match(`${p.name} ${p.description}`.toLowerCase(), /red/);
  });

  it('refuses bad page sizes, unknown categories and tokens from another query', () => {
    assert.throws(() => catalog.search({ query: '', category: '', pageSize: 101, pageToken: '' }), /page_size/);
    assert.throws(() => catalog.search({ query: '', category: 'cars', pageSize: 10, pageToken: '' }), /unknown category 'cars'/);
    const first = catalog.search({ query: '', category: 'books', pageSize: 5, pageToken: '' });
    assert.throws(() => catalog.search({ query: '', category: 'toys', pageSize: 5, pageToken: first.nextPageToken }), /different query/);
    assert.throws(() => catalog.search({ query: '', category: '', pageSize: 5, pageToken: '!!garbage' }), /page_token/);
  });
});
