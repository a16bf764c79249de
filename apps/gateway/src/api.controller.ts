import { Body, Controller, Get, Headers, HttpCode, Inject, Param, Post, Query, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { invalidArgument } from '@strata/service-kit';
import {
  idempotencyKey,
  listProductsQuery,
  orderBody,
  orderIdParam,
  parseInput,
  productIdParam,
  quoteBody,
  recommendationsQuery,
} from './api-schemas.js';
import { Upstreams } from './upstreams.js';

/**
 * The public HTTP/JSON API. Each handler validates its input, then makes the gRPC calls; each endpoint's
 * cost is dominated by one layer (search and product: catalog; quotes: pricing; orders: orders and its
 * database; recommendations: recommendations), so a load test can push on one layer at a time.
 */
@Controller('api')
export class ApiController {
  constructor(@Inject(Upstreams) private readonly upstreams: Upstreams) {}

  @Get('products')
  async listProducts(@Query() query: unknown) {
    const q = parseInput(listProductsQuery, query, 'query');
    const page = await this.upstreams.catalog.searchProducts({
      query: q.query ?? '',
      category: q.category ?? '',
      pageSize: q.pageSize ?? 0,
      pageToken: q.pageToken ?? '',
    });
    return { products: page.products, nextPageToken: page.nextPageToken, totalSize: page.totalSize };
  }

  @Get('products/:id')
  async getProduct(@Param('id') id: string) {
    const { product } = await this.upstreams.catalog.getProduct({ id: parseInput(productIdParam, id, 'id') });
    return product;
  }

  @Get('products/:id/recommendations')
  async recommendations(@Param('id') id: string, @Query() query: unknown) {
    const productId = parseInput(productIdParam, id, 'id');
    const { limit } = parseInput(recommendationsQuery, query, 'query');
    const { recommendations } = await this.upstreams.recommendations.getRecommendations({ productId, limit: limit ?? 0 });
    return { productId, recommendations };
  }

  @Post('quotes')
  @HttpCode(200)
  async quote(@Body() body: unknown) {
    const request = parseInput(quoteBody, body, 'body');
    const ids = request.lines.map((l) => l.productId);
    const { products, missingIds } = await this.upstreams.catalog.batchGetProducts({ ids });
    if (missingIds.length > 0)
      throw invalidArgument(`lines[${ids.indexOf(missingIds[0]!)}].productId`, `unknown product '${missingIds[0]}'`);
    const byId = new Map(products.map((p) => [p.id, p]));
    return this.upstreams.pricing.quote({
      lines: request.lines.map((l) => ({
        productId: l.productId,
        quantity: l.quantity,
        category: byId.get(l.productId)!.category,
        unitPrice: byId.get(l.productId)!.price,
      })),
      currencyCode: request.currency ?? '',
      countryCode: request.country ?? '',
      promotionCode: request.promotionCode ?? '',
    });
  }

  @Post('orders')
  async placeOrder(
    @Body() body: unknown,
    @Headers('idempotency-key') key: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    if (key === undefined)
      throw invalidArgument(
        'Idempotency-Key',
        'header is required: send a new unique value (a UUID) per order, and the same value when retrying it',
      );
    const idempotencyKeyValue = parseInput(idempotencyKey, key, 'Idempotency-Key');
    const request = parseInput(orderBody, body, 'body');
    const { order, replayed } = await this.upstreams.orders.placeOrder({
      idempotencyKey: idempotencyKeyValue,
      lines: request.lines,
      currencyCode: request.currency ?? '',
      countryCode: request.country ?? '',
      promotionCode: request.promotionCode ?? '',
      customerEmail: request.customerEmail ?? '',
    });
    reply
      .status(replayed ? 200 : 201)
      .header('location', `/api/orders/${order!.id}`)
      .header('idempotent-replayed', String(replayed));
    return order;
  }

  @Get('orders/:id')
  async getOrder(@Param('id') id: string) {
    const { order } = await this.upstreams.orders.getOrder({ id: parseInput(orderIdParam, id, 'id') });
    return order;
  }
}
