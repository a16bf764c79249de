// Scenarios recommendations limits.

import { productId } from './common.js';

export const recommendations = {
  protocol: 'http',
  layer: 'recommendations',
  description: 'top 10 similar products',
  request: (i) => ({
    method: 'GET',
    path: `/api/products/${productId(i)}/recommendations?limit=10`,
    name: 'GET /api/products/:id/recommendations',
  }),
};

export const grpcRecommendations = {
  protocol: 'grpc',
  layer: 'recommendations',
  description: 'GetRecommendations straight over gRPC (no gateway)',
  service: 'strata.recommendations.v1.RecommendationsService',
  method: 'GetRecommendations',
  request: (i) => ({ productId: productId(i), limit: 10 }),
};
