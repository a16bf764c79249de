// Scenarios pricing limits.

import { CATEGORIES, postJson, productId } from './common.js';

export const quote = {
  protocol: 'http',
  layer: 'pricing',
  description: 'quote three lines with a promotion, in USD (through the gateway, which also asks catalog for the prices)',
  request: (i) =>
    postJson('/api/quotes', 'POST /api/quotes', {
      lines: [0, 1, 2].map((k) => ({ productId: productId(i * 3 + k), quantity: 1 + ((i + k) % 5) })),
      currency: 'USD',
      country: 'FR',
      promotionCode: 'SAVE10',
    }),
};

export const grpcQuote = {
  protocol: 'grpc',
  layer: 'pricing',
  description: 'Quote of five lines with a promotion, in USD, straight over gRPC (no gateway, no catalog)',
  service: 'strata.pricing.v1.PricingService',
  method: 'Quote',
  request: (i) => ({
    lines: [0, 1, 2, 3, 4].map((k) => ({
      productId: productId(i * 5 + k),
      category: CATEGORIES[(i + k) % CATEGORIES.length],
      quantity: 1 + ((i + k) % 5),
      unitPrice: { currencyCode: 'EUR', minorUnits: 199 + ((i * 37 + k * 101) % 50000) },
    })),
    currencyCode: 'USD',
    countryCode: 'FR',
    promotionCode: 'SAVE10',
  }),
};
