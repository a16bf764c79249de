import type { GetProductRequest, GetProductResponse, SearchProductsRequest, SearchProductsResponse } from '@strata/contracts/catalog/v1';
import type { GetRecommendationsResponse } from '@strata/contracts/recommendations/v1';
import { invalidArgument } from '@strata/domain-errors';
import { rankSimilar } from './similarity-ranker.js';

export const DEFAULT_LIMIT = 10;
export const MAX_LIMIT = 50;

/** The catalog calls recommendations makes. */
export interface CandidateSource {
  getProduct(request: GetProductRequest): Promise<GetProductResponse>;
  searchProducts(request: SearchProductsRequest): Promise<SearchProductsResponse>;
}

export interface RecommenderSettings {
  /** How many candidates (same category) to fetch from catalog and score. */
  readonly candidates: number;
  /** Length of the feature vectors: the main knob of CPU cost per request. */
  readonly dimensions: number;
}

/** Recommends products similar to a given one: fetch candidates from catalog, then rank them here. */
export class Recommender {
  constructor(
    private readonly catalog: CandidateSource,
    private readonly settings: RecommenderSettings,
  ) {}

  async recommend(productId: string, requestedLimit: number): Promise<GetRecommendationsResponse> {
    if (!productId) throw invalidArgument('productId', 'is required');
    const limit = requestedLimit === 0 ? DEFAULT_LIMIT : requestedLimit;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT)
      throw invalidArgument('limit', `must be from 1 to ${MAX_LIMIT} (0 means ${DEFAULT_LIMIT})`);

    const { product: target } = await this.catalog.getProduct({ id: productId });
    const candidates = [];
    let pageToken = '';
    do {
      const page = await this.catalog.searchProducts({ query: '', category: target!.category, pageSize: 100, pageToken });
      candidates.push(...page.products);
      pageToken = page.nextPageToken;
    } while (pageToken && candidates.length < this.settings.candidates);

    const ranked = rankSimilar(target!, candidates.slice(0, this.settings.candidates), limit, this.settings.dimensions);
    return { recommendations: ranked };
  }
}
