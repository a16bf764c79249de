import type { CatalogServiceClient } from '@strata/contracts/catalog/v1';
import type { OrdersServiceClient } from '@strata/contracts/orders/v1';
import type { PricingServiceClient } from '@strata/contracts/pricing/v1';
import type { RecommendationsServiceClient } from '@strata/contracts/recommendations/v1';
import { createGrpcClient, type PromiseClient, type ServiceMetrics } from '@strata/service-kit';

/** The gateway's four gRPC channels, one per upstream service, made once per process. */
export class Upstreams {
  readonly catalog: PromiseClient<CatalogServiceClient>;
  readonly pricing: PromiseClient<PricingServiceClient>;
  readonly orders: PromiseClient<OrdersServiceClient>;
  readonly recommendations: PromiseClient<RecommendationsServiceClient>;

  constructor(
    targets: { catalog: string; pricing: string; orders: string; recommendations: string },
    timeoutMs: number,
    metrics: ServiceMetrics,
  ) {
    this.catalog = createGrpcClient('strata.catalog.v1.CatalogService', { target: targets.catalog, timeoutMs, metrics });
    this.pricing = createGrpcClient('strata.pricing.v1.PricingService', { target: targets.pricing, timeoutMs, metrics });
    this.orders = createGrpcClient('strata.orders.v1.OrdersService', { target: targets.orders, timeoutMs, metrics });
    this.recommendations = createGrpcClient('strata.recommendations.v1.RecommendationsService', {
      target: targets.recommendations,
      timeoutMs,
      metrics,
    });
  }

  close(): void {
    for (const client of [this.catalog, this.pricing, this.orders, this.recommendations]) client.close();
  }
}

/** Whether the gateway takes new requests (false from the first moment of a shutdown). */
export class Readiness {
  ready = false;
}
