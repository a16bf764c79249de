// What every scenario module shares: the catalog's shape, and the SLO of the load tests. Plain ES module with no k6
// and no Node APIs, so k6 scripts and the Node load driver import the very same definitions.

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

export const JSON_HEADERS = { 'content-type': 'application/json' };

/** One GET of `path`, reported under `name` (the route: k6 and the reports group the answers by it). */
export function get(path, name) {
  return { method: 'GET', path, name };
}

/** One POST of `body` as JSON to `path`, reported under `name`; `headers` beside the content type. */
export function postJson(path, name, body, headers = {}) {
  return { method: 'POST', path, name, headers: { ...JSON_HEADERS, ...headers }, body: JSON.stringify(body) };
}

/** Default service-level objective of the load tests. */
export const SLO = { p95Ms: 250, p99Ms: 500, maxErrorRate: 0 };
