// Scenarios catalog limits.

import { CATEGORIES, QUERIES, get, productId } from './common.js';

export const browse = {
  protocol: 'http',
  layer: 'catalog',
  description: 'search a category (1 in 4) or get one product',
  request: (i) =>
    i % 4 === 0
      ? get(`/api/products?category=${CATEGORIES[i % CATEGORIES.length]}&pageSize=20`, 'GET /api/products')
      : get(`/api/products/${productId(i)}`, 'GET /api/products/:id'),
};

export const search = {
  protocol: 'http',
  layer: 'catalog',
  description: 'full-text search over the whole catalog (10,000 products)',
  request: (i) => get(`/api/products?query=${encodeURIComponent(QUERIES[i % QUERIES.length])}&pageSize=20`, 'GET /api/products?query'),
};

export const grpcGetProduct = {
  protocol: 'grpc',
  layer: 'catalog',
  description: 'GetProduct straight over gRPC (no gateway)',
  service: 'strata.catalog.v1.CatalogService',
  method: 'GetProduct',
  request: (i) => ({ id: productId(i) }),
};
