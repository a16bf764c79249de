import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { Order, PlaceOrderRequest } from '@strata/contracts/orders/v1';
import type { QuoteRequest, QuoteResponse } from '@strata/contracts/pricing/v1';
import type { DomainError } from '@strata/domain-errors';
import { OrderPlacement, type ProductLookup, type QuoteSource } from './order-placement.js';
import type { OrderStore, StoreResult } from './order-store.js';

/** The store's contract (unique key, insert-once) kept in a map, to test the domain alone. */
class MapOrderStore implements OrderStore {
  readonly rows = new Map<string, { order: Order; fingerprint: string }>();
  async insertOnce(order: Order, fingerprint: string): Promise<StoreResult> {
    const existing = this.rows.get(order.idempotencyKey);
    if (existing) return { stored: false, ...existing };
    this.rows.set(order.idempotencyKey, { order, fingerprint });
    return { stored: true, order };
  }
  async findByKey(key: string) {
    return this.rows.get(key);
  }
  async findById(id: string) {
    return [...this.rows.values()].find((r) => r.order.id === id)?.order;
  }
  async close(): Promise<void> {
    this.rows.clear();
  }
}

const catalog: ProductLookup = {
  async batchGetProducts({ ids }) {
    const known = ids.filter((id) => id.startsWith('p-'));
    return {
      products: known.map((id) => ({
        id,
        name: `Product ${id}`,
        description: '',
        category: 'books',
        price: { currencyCode: 'EUR', minorUnits: 1000 },
        tags: [],
        attributes: {},
      })),
      missingIds: ids.filter((id) => !id.startsWith('p-')),
    };
  },
};
let quotes = 0;
const pricing: QuoteSource = {
  async quote(request: QuoteRequest): Promise<QuoteResponse> {
    quotes++;
    const m = (minorUnits: number) => ({ currencyCode: 'EUR', minorUnits });
    const lines = request.lines.map((l) => ({
      productId: l.productId,
      quantity: l.quantity,
      unitPrice: l.unitPrice,
      lineTotal: m(l.unitPrice!.minorUnits * l.quantity),
      discount: m(0),
      tax: m(0),
    }));
    const subtotal = lines.reduce((a, l) => a + l.lineTotal.minorUnits, 0);
    return { lines, subtotal: m(subtotal), discount: m(0), tax: m(0), total: m(subtotal), appliedPromotions: [], taxRateBasisPoints: 0 };
  },
};

const request = (key: string, quantity = 1, productId = 'p-000001'): PlaceOrderRequest => ({
  idempotencyKey: key,
  lines: [{ productId, quantity }],
  currencyCode: 'EUR',
  promotionCode: '',
  countryCode: 'DE',
  customerEmail: 'ada@example.com',
});

describe('OrderPlacement', () => {
  it('stores one order per key: a repeat replays it without pricing again', async () => {
    const store = new MapOrderStore();
    const orders = new OrderPlacement(catalog, pricing, store);
    const first = await orders.placeOrder(request('key-00000001', 2));
    const before = quotes;
    const again = await orders.placeOrder(request('key-00000001', 2));
    assert.equal(first.replayed, false);
    assert.equal(again.replayed, true);
    assert.equal(again.order?.id, first.order?.id);
    assert.equal(quotes, before);
    assert.equal(store.rows.size, 1);
    assert.equal((await orders.getOrder(first.order!.id)).total?.minorUnits, 2000);
  });

  it('refuses the same key with a different body', async () => {
    const orders = new OrderPlacement(catalog, pricing, new MapOrderStore());
    await orders.placeOrder(request('key-00000002', 1));
    await assert.rejects(
      orders.placeOrder(request('key-00000002', 3)),
      (e: DomainError) => e.kind === 'failed_precondition' && /already used/.test(e.message),
    );
  });

  it('names the line of an unknown product and stores nothing', async () => {
    const store = new MapOrderStore();
    const orders = new OrderPlacement(catalog, pricing, store);
    await assert.rejects(orders.placeOrder(request('key-00000003', 1, 'nope')), (e: DomainError) => e.field === 'lines[0].productId');
    assert.equal(store.rows.size, 0);
  });

  it('never stores two orders for one key, whatever the interleaving of repeats (fc.scheduler)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.scheduler(),
        fc.array(fc.constantFrom('key-aaaaaaaa', 'key-bbbbbbbb', 'key-cccccccc'), { minLength: 1, maxLength: 12 }),
        async (s, keys) => {
          // Every dependency answers when the scheduler says, so the calls interleave in every order fast-check
          // generates: a repeat that finds the first one stored, two that both miss it and race to insert, …
          const store = new MapOrderStore();
          const scheduledStore: OrderStore = {
            insertOnce: s.scheduleFunction((order: Order, fingerprint: string) => store.insertOnce(order, fingerprint)),
            findByKey: s.scheduleFunction((key: string) => store.findByKey(key)),
            findById: (id) => store.findById(id),
            close: () => store.close(),
          };
          const scheduledCatalog: ProductLookup = { batchGetProducts: s.scheduleFunction((r) => catalog.batchGetProducts(r)) };
          const scheduledPricing: QuoteSource = { quote: s.scheduleFunction((r) => pricing.quote(r)) };
          const orders = new OrderPlacement(scheduledCatalog, scheduledPricing, scheduledStore);
          const placed = Promise.all(keys.map((k) => orders.placeOrder(request(k))));
          await s.waitAll();
          const results = await placed;
          for (const key of new Set(keys)) {
            const row = store.rows.get(key);
            assert.ok(row, `${key} is stored`);
            const answers = results.filter((_, i) => keys[i] === key);
            // Every caller of a key is given the stored order; exactly one of them placed it, the others replay it.
            assert.deepEqual(
              answers.map((r) => r.order!.id),
              answers.map(() => row.order.id),
              `${key}: every answer is the stored order`, // fast-check prints the interleaving that broke it
            );
            assert.equal(answers.filter((r) => !r.replayed).length, 1, `${key}: one placement, the rest replays`);
          }
          assert.equal(store.rows.size, new Set(keys).size);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('validates keys, quantities, duplicates and ids with the field named', async () => {
    const orders = new OrderPlacement(catalog, pricing, new MapOrderStore());
    await assert.rejects(orders.placeOrder(request('short')), /idempotencyKey/);
    await assert.rejects(orders.placeOrder(request('key-00000004', 0)), /lines\[0\]\.quantity/);
    await assert.rejects(
      orders.placeOrder({
        ...request('key-00000005'),
        lines: [
          { productId: 'p-1', quantity: 1 },
          { productId: 'p-1', quantity: 1 },
        ],
      }),
      /appears twice/,
    );
    await assert.rejects(orders.getOrder('42'), /not an order id/);
  });
});
