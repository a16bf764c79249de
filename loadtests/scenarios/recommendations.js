// Scenarios recommendations limits.

import { get, productId } from './common.js';

export const recommendations = {
  protocol: 'http',
  layer: 'recommendations',
  description: 'top 10 similar products',
  request: (i) => get(`/api/products/${productId(i)}/recommendations?limit=10`, 'GET /api/products/:id/recommendations'),
};

export const grpcRecommendations = {
  protocol: 'grpc',
  layer: 'recommendations',
  description: 'GetRecommendations straight over gRPC (no gateway)',
  service: 'strata.recommendations.v1.RecommendationsService',
  method: 'GetRecommendations',
  request: (i) => ({ productId: productId(i), limit: 10 }),
};
