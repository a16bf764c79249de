import type { Product, SearchProductsRequest, SearchProductsResponse } from '@strata/contracts/catalog/v1';
import { invalidArgument, notFound } from '@strata/domain-errors';

export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 100;
export const MAX_BATCH_IDS = 100;
export const MAX_QUERY_LENGTH = 200;
const ID_PATTERN = /^p-\d{6}$/;

interface PageToken {
  /** Index of the first product of the page in the filtered, id-ordered list. */
  offset: number;
  /** Fingerprint of the query the token belongs to: a token is only valid for the same filters. */
  filter: string;
}

/**
 * The product catalog: lookups by id and filtered, paginated search. Plain TypeScript: the gRPC
 * controller only translates.
 */
export class ProductCatalog {
  private readonly byId = new Map<string, Product>();
  private readonly byCategory = new Map<string, Product[]>();
  private readonly searchText = new Map<string, string>();

  constructor(private readonly products: readonly Product[]) {
    const ordered = [...products].sort((a, b) => a.id.localeCompare(b.id));
    for (const product of ordered) {
      this.byId.set(product.id, product);
      const list = this.byCategory.get(product.category) ?? [];
      list.push(product);
      this.byCategory.set(product.category, list);
      this.searchText.set(product.id, [product.name, product.description, ...product.tags].join(' ').toLowerCase());
    }
    this.products = ordered;
  }

  get size(): number {
    return this.products.length;
  }

  get categories(): string[] {
    return [...this.byCategory.keys()].sort();
  }

  getProduct(id: string): Product {
    checkId('id', id);
    const product = this.byId.get(id);
    if (!product) throw notFound(`product '${id}' does not exist`);
    return product;
  }

  batchGet(ids: readonly string[]): { products: Product[]; missingIds: string[] } {
    if (ids.length > MAX_BATCH_IDS) throw invalidArgument('ids', `at most ${MAX_BATCH_IDS} ids per call, got ${ids.length}`);
    ids.forEach((id, i) => checkId(`ids[${i}]`, id));
    const products: Product[] = [];
    const missingIds: string[] = [];
    for (const id of ids) {
      const product = this.byId.get(id);
      if (product) products.push(product);
      else missingIds.push(id);
    }
    return { products, missingIds };
  }

  search(request: SearchProductsRequest): SearchProductsResponse {
    const query = request.query.trim();
    if (query.length > MAX_QUERY_LENGTH) throw invalidArgument('query', `at most ${MAX_QUERY_LENGTH} characters`);
    if (request.category && !this.byCategory.has(request.category)) {
      throw invalidArgument('category', `unknown category '${request.category}'; known: ${this.categories.join(', ')}`);
    }
    const pageSize = request.pageSize === 0 ? DEFAULT_PAGE_SIZE : request.pageSize;
    if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > MAX_PAGE_SIZE) {
      throw invalidArgument('pageSize', `must be between 1 and ${MAX_PAGE_SIZE} (0 means ${DEFAULT_PAGE_SIZE})`);
    }
    const filter = `${request.category}\u0000${query.toLowerCase()}`;
    const offset = request.pageToken ? decodePageToken(request.pageToken, filter) : 0;

    const words = query.toLowerCase().split(/\s+/).filter(Boolean);
    const pool = request.category ? this.byCategory.get(request.category)! : this.products;
    const matches = words.length === 0 ? pool : pool.filter((p) => words.every((w) => this.searchText.get(p.id)!.includes(w)));
    const page = matches.slice(offset, offset + pageSize);
    const next = offset + page.length;
    return {
      products: [...page],
      nextPageToken: next < matches.length ? encodePageToken({ offset: next, filter }) : '',
      totalSize: matches.length,
    };
  }
}

function checkId(field: string, id: string): void {
  if (!ID_PATTERN.test(id)) throw invalidArgument(field, `'${id.slice(0, 40)}' is not a product id (expected p-NNNNNN)`);
}

function encodePageToken(token: PageToken): string {
  return Buffer.from(JSON.stringify(token)).toString('base64url');
}

function decodePageToken(raw: string, filter: string): number {
  let token: Partial<PageToken>;
  try {
    token = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as Partial<PageToken>;
  } catch {
    throw invalidArgument('pageToken', 'not a token this service issued');
  }
  if (typeof token.offset !== 'number' || !Number.isInteger(token.offset) || token.offset < 0 || typeof token.filter !== 'string') {
    throw invalidArgument('pageToken', 'not a token this service issued');
  }
  if (token.filter !== filter) throw invalidArgument('pageToken', 'belongs to a different query or category; start again without a token');
  return token.offset;
}
