import { Controller, Get, HttpCode, Inject, Post } from '@nestjs/common';
import type { CatalogServiceClient } from '@strata/contracts/catalog/v1';
import type { OrdersServiceClient } from '@strata/contracts/orders/v1';
import type { PricingServiceClient } from '@strata/contracts/pricing/v1';
import type { RecommendationsServiceClient } from '@strata/contracts/recommendations/v1';
import { invalidArgument } from '@strata/domain-errors';
import { upstream, type UpstreamClients } from '@strata/service-kit';
import type { FastifyReply, FastifyRequest } from '@strata/service-kit/http-edge';
import {
  idempotencyKey,
  listProductsQuery,
  orderBody,
  orderIdParam,
  parseInput,
  productIdParam,
  quoteBody,
  recommendationsQuery,
} from './domain/api-schemas.js';

/** The four services the gateway calls; the kit reads `<SERVICE>_TARGET` for each and closes them after the drain. */
export const GATEWAY_UPSTREAMS = {
  catalog: upstream<CatalogServiceClient>('strata.catalog.v1.CatalogService'),
  pricing: upstream<PricingServiceClient>('strata.pricing.v1.PricingService'),
  orders: upstream<OrdersServiceClient>('strata.orders.v1.OrdersService'),
  recommendations: upstream<RecommendationsServiceClient>('strata.recommendations.v1.RecommendationsService'),
};
export const UPSTREAMS = Symbol('upstreams');
export type GatewayUpstreams = UpstreamClients<typeof GATEWAY_UPSTREAMS>;

type Params = { id: string };

/**
 * The public HTTP/JSON API. Each handler validates its input, then makes the gRPC calls; each endpoint's
 * cost is dominated by one layer (search and product: catalog; quotes: pricing; orders: orders and its
 * database; recommendations: recommendations), so a load test can push on one layer at a time.
 * The routes are declared with Nest's decorators and served by the kit's HTTP edge (`startHttpEdge`).
 */
@Controller('api')
export class ApiController {
  constructor(@Inject(UPSTREAMS) private readonly upstreams: GatewayUpstreams) {}

  @Get('products')
  async listProducts(request: FastifyRequest) {
    const q = parseInput(listProductsQuery, request.query, 'query');
    const page = await this.upstreams.catalog.searchProducts({
      query: q.query ?? '',
      category: q.category ?? '',
      pageSize: q.pageSize ?? 0,
      pageToken: q.pageToken ?? '',
    });
    return { products: page.products, nextPageToken: page.nextPageToken, totalSize: page.totalSize };
  }

  @Get('products/:id')
  async getProduct(request: FastifyRequest) {
    const { product } = await this.upstreams.catalog.getProduct({ id: parseInput(productIdParam, (request.params as Params).id, 'id') });
    return product;
  }

  @Get('products/:id/recommendations')
  async recommendations(request: FastifyRequest) {
    const productId = parseInput(productIdParam, (request.params as Params).id, 'id');
    const { limit } = parseInput(recommendationsQuery, request.query, 'query');
    const { recommendations } = await this.upstreams.recommendations.getRecommendations({ productId, limit: limit ?? 0 });
    return { productId, recommendations };
  }

  @Post('quotes')
  @HttpCode(200)
  async quote(request: FastifyRequest) {
    const body = parseInput(quoteBody, request.body, 'body');
    const ids = body.lines.map((l) => l.productId);
    const { products, missingIds } = await this.upstreams.catalog.batchGetProducts({ ids });
    if (missingIds.length > 0)
      throw invalidArgument(`lines[${ids.indexOf(missingIds[0]!)}].productId`, `unknown product '${missingIds[0]}'`);
    const byId = new Map(products.map((p) => [p.id, p]));
    return this.upstreams.pricing.quote({
      lines: body.lines.map((l) => ({
        productId: l.productId,
        quantity: l.quantity,
        category: byId.get(l.productId)!.category,
        unitPrice: byId.get(l.productId)!.price,
      })),
      currencyCode: body.currency ?? '',
      countryCode: body.country ?? '',
      promotionCode: body.promotionCode ?? '',
    });
  }

  @Post('orders')
  async placeOrder(request: FastifyRequest, reply: FastifyReply) {
    const key = request.headers['idempotency-key'];
    if (key === undefined)
      throw invalidArgument(
        'Idempotency-Key',
        'header is required: send a new unique value (a UUID) per order, and the same value when retrying it',
      );
    const idempotencyKeyValue = parseInput(idempotencyKey, key, 'Idempotency-Key');
    const body = parseInput(orderBody, request.body, 'body');
    const { order, replayed } = await this.upstreams.orders.placeOrder({
      idempotencyKey: idempotencyKeyValue,
      lines: body.lines,
      currencyCode: body.currency ?? '',
      countryCode: body.country ?? '',
      promotionCode: body.promotionCode ?? '',
      customerEmail: body.customerEmail ?? '',
    });
    reply
      .status(replayed ? 200 : 201)
      .header('location', `/api/orders/${order!.id}`)
      .header('idempotent-replayed', String(replayed));
    return order;
  }

  @Get('orders/:id')
  async getOrder(request: FastifyRequest) {
    const { order } = await this.upstreams.orders.getOrder({ id: parseInput(orderIdParam, (request.params as Params).id, 'id') });
    return order;
  }
}
