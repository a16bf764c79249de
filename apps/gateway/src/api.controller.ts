import { Body, Controller, Get, Headers, HttpCode, Inject, Param, Post, Query, Res } from '@nestjs/common';
import * as catalog from '@strata/contracts/catalog/v1';
import * as orders from '@strata/contracts/orders/v1';
import * as pricing from '@strata/contracts/pricing/v1';
import * as recommendations from '@strata/contracts/recommendations/v1';
import { invalidArgument } from '@strata/domain-errors';
import { KIT_UPSTREAMS, upstream, type UpstreamClients } from '@strata/service-kit';
import type { FastifyReply } from '@strata/service-kit/http-edge';
import type { z } from 'zod';
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
import { Valid } from './validation.pipe.js';

/** The four services the gateway calls; the kit reads `<SERVICE>_TARGET` for each and closes them after the drain. */
export const GATEWAY_UPSTREAMS = {
  catalog: upstream<catalog.CatalogServiceClient>(`${catalog.protobufPackage}.${catalog.CATALOG_SERVICE_NAME}`),
  pricing: upstream<pricing.PricingServiceClient>(`${pricing.protobufPackage}.${pricing.PRICING_SERVICE_NAME}`),
  orders: upstream<orders.OrdersServiceClient>(`${orders.protobufPackage}.${orders.ORDERS_SERVICE_NAME}`),
  recommendations: upstream<recommendations.RecommendationsServiceClient>(
    `${recommendations.protobufPackage}.${recommendations.RECOMMENDATIONS_SERVICE_NAME}`,
  ),
};
export type GatewayUpstreams = UpstreamClients<typeof GATEWAY_UPSTREAMS>;

/**
 * The public HTTP/JSON API. Each handler validates its input, then makes the gRPC calls; each endpoint's
 * cost is dominated by one layer (search and product: catalog; quotes: pricing; orders: orders and its
 * database; recommendations: recommendations), so a load test can push on one layer at a time.
 * Nest serves the routes on its Fastify adapter (`startHttpEdge`); every input is validated by a pipe (`Valid`).
 */
@Controller('api')
export class ApiController {
  constructor(@Inject(KIT_UPSTREAMS) private readonly upstreams: GatewayUpstreams) {}

  @Get('products')
  async listProducts(@Query(new Valid(listProductsQuery, 'query')) q: z.infer<typeof listProductsQuery>) {
    const page = await this.upstreams.catalog.searchProducts({
      query: q.query ?? '',
      category: q.category ?? '',
      pageSize: q.pageSize ?? 0,
      pageToken: q.pageToken ?? '',
    });
    return { products: page.products, nextPageToken: page.nextPageToken, totalSize: page.totalSize };
  }

  @Get('products/:id')
  async getProduct(@Param('id', new Valid(productIdParam, 'id')) id: string) {
    const { product } = await this.upstreams.catalog.getProduct({ id });
    return product;
  }

  @Get('products/:id/recommendations')
  async recommendations(
    @Param('id', new Valid(productIdParam, 'id')) productId: string,
    @Query(new Valid(recommendationsQuery, 'query')) { limit }: z.infer<typeof recommendationsQuery>,
  ) {
    const { recommendations } = await this.upstreams.recommendations.getRecommendations({ productId, limit: limit ?? 0 });
    return { productId, recommendations };
  }

  @Post('quotes')
  @HttpCode(200)
  async quote(@Body(new Valid(quoteBody, 'body')) body: z.infer<typeof quoteBody>) {
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
  async placeOrder(
    @Headers('idempotency-key') key: string | undefined,
    @Body() rawBody: unknown,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    if (key === undefined)
      throw invalidArgument(
        'Idempotency-Key',
        'header is required: send a new unique value (a UUID) per order, and the same value when retrying it',
      );
    const idempotencyKeyValue = parseInput(idempotencyKey, key, 'Idempotency-Key');
    // The body after the header: a request without its key is refused for that first, whatever its body.
    const body = parseInput(orderBody, rawBody, 'body');
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
  async getOrder(@Param('id', new Valid(orderIdParam, 'id')) id: string) {
    const { order } = await this.upstreams.orders.getOrder({ id });
    return order;
  }
}
