// The load scenarios of Strata, shared by the k6 scripts (k6/*.js) and the Node load driver (src/driver.ts).
// Plain ES module: no k6 and no Node APIs, so both runtimes import the very same definitions.

export const PRODUCT_COUNT = 10000;
export const CATEGORIES = [
  'books',
  'music',
  'kitchen',
  'garden',
  'toys',
  'sports',
  'outdoor',
  'office',
  'beauty',
  'electronics',
  'home',
  'clothing',
];

/** A product id spread over the whole catalog (7919 is prime, so consecutive iterations jump around). */
export function productId(i) {
  return `p-${String(1 + ((i * 7919) % PRODUCT_COUNT)).padStart(6, '0')}`;
}

/** Search words that occur in names, descriptions and tags, alone and in pairs. */
export const QUERIES = [
  'classic',
  'red',
  'wood',
  'acme kettle',
  'gift',
  'retro lamp',
  'steel',
  'blue',
  'handmade',
  'eco',
  'cotton scarf',
  'premium',
];

const json = { 'content-type': 'application/json' };

/**
 * One scenario per endpoint group. `layer` is the service whose capacity limits it; `request(i, ctx)` builds the
 * i-th request (ctx.runId makes idempotency keys unique per run, ctx.orderId names an order to read).
 */
export const scenarios = {
  browse: {
    layer: 'catalog',
    description: 'search a category (1 in 4) or get one product',
    request: (i) =>
      i % 4 === 0
        ? { method: 'GET', path: `/api/products?category=${CATEGORIES[i % CATEGORIES.length]}&pageSize=20`, name: 'GET /api/products' }
        : { method: 'GET', path: `/api/products/${productId(i)}`, name: 'GET /api/products/:id' },
  },
  search: {
    layer: 'catalog',
    description: 'full-text search over the whole catalog (10,000 products)',
    request: (i) => ({
      method: 'GET',
      path: `/api/products?query=${encodeURIComponent(QUERIES[i % QUERIES.length])}&pageSize=20`,
      name: 'GET /api/products?query',
    }),
  },
  product: {
    layer: 'catalog',
    description: 'get one product',
    request: (i) => ({ method: 'GET', path: `/api/products/${productId(i)}`, name: 'GET /api/products/:id' }),
  },
  quote: {
    layer: 'pricing',
    description: 'quote three lines with a promotion, in USD',
    request: (i) => ({
      method: 'POST',
      path: '/api/quotes',
      name: 'POST /api/quotes',
      headers: json,
      body: JSON.stringify({
        lines: [0, 1, 2].map((k) => ({ productId: productId(i * 3 + k), quantity: 1 + ((i + k) % 5) })),
        currency: 'USD',
        country: 'FR',
        promotionCode: 'SAVE10',
      }),
    }),
  },
  order: {
    layer: 'orders',
    description: 'place an order with a fresh Idempotency-Key',
    request: (i, ctx) => ({
      method: 'POST',
      path: '/api/orders',
      name: 'POST /api/orders',
      headers: { ...json, 'idempotency-key': `load-${ctx.runId}-${i}` },
      body: JSON.stringify({ lines: [{ productId: productId(i), quantity: 1 + (i % 3) }], country: 'DE' }),
    }),
  },
  orderRead: {
    layer: 'orders',
    description: 'read one order back',
    request: (_i, ctx) => ({ method: 'GET', path: `/api/orders/${ctx.orderId}`, name: 'GET /api/orders/:id' }),
  },
  recommendations: {
    layer: 'recommendations',
    description: 'top 10 similar products',
    request: (i) => ({
      method: 'GET',
      path: `/api/products/${productId(i)}/recommendations?limit=10`,
      name: 'GET /api/products/:id/recommendations',
    }),
  },
};

/** Default service-level objective of the load tests. */
export const SLO = { p95Ms: 250, p99Ms: 500, maxErrorRate: 0 };
