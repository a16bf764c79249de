import { randomUUID } from 'node:crypto';
import type { BatchGetProductsRequest, BatchGetProductsResponse } from '@strata/contracts/catalog/v1';
import type { Order, PlaceOrderRequest, PlaceOrderResponse } from '@strata/contracts/orders/v1';
import type { QuoteRequest, QuoteResponse } from '@strata/contracts/pricing/v1';
import { failedPrecondition, invalidArgument, notFound } from '@strata/domain-errors';
import { checkOrderId, intentFingerprint, validateOrderRequest } from './order-model.js';
import type { OrderStore } from './order-store.js';

/** What orders needs from catalog and pricing: only these calls, so tests can stand in for them. */
export interface ProductLookup {
  batchGetProducts(request: BatchGetProductsRequest): Promise<BatchGetProductsResponse>;
}
export interface QuoteSource {
  quote(request: QuoteRequest): Promise<QuoteResponse>;
}

/**
 * Places and reads orders. The idempotency key makes PlaceOrder safe to repeat: the first request with
 * a key stores the order; a repeat with the same body returns it (replayed) without pricing it again;
 * a repeat with another body is refused, so a reused key can never turn into a different order.
 */
export class OrderPlacement {
  constructor(
    private readonly catalog: ProductLookup,
    private readonly pricing: QuoteSource,
    private readonly store: OrderStore,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async placeOrder(request: PlaceOrderRequest): Promise<PlaceOrderResponse> {
    const intent = validateOrderRequest(request);
    const fingerprint = intentFingerprint(intent);

    const existing = await this.store.findByKey(intent.idempotencyKey);
    if (existing) return this.replay(existing, fingerprint, intent.idempotencyKey);

    const { products, missingIds } = await this.catalog.batchGetProducts({ ids: intent.lines.map((l) => l.productId) });
    if (missingIds.length > 0) {
      const index = intent.lines.findIndex((l) => l.productId === missingIds[0]);
      throw invalidArgument(`lines[${index}].productId`, `unknown product '${missingIds[0]!.slice(0, 40)}'`);
    }
    const byId = new Map(products.map((p) => [p.id, p]));
    const quote = await this.pricing.quote({
      lines: intent.lines.map((l) => {
        const product = byId.get(l.productId)!;
        return { productId: l.productId, category: product.category, quantity: l.quantity, unitPrice: product.price };
      }),
      currencyCode: intent.currencyCode,
      promotionCode: intent.promotionCode,
      countryCode: intent.countryCode,
    });

    const order: Order = {
      id: `o-${randomUUID()}`,
      idempotencyKey: intent.idempotencyKey,
      customerEmail: intent.customerEmail,
      countryCode: intent.countryCode,
      lines: quote.lines.map((l) => ({
        productId: l.productId,
        productName: byId.get(l.productId)!.name,
        quantity: l.quantity,
        unitPrice: l.unitPrice,
        lineTotal: l.lineTotal,
      })),
      subtotal: quote.subtotal,
      discount: quote.discount,
      tax: quote.tax,
      total: quote.total,
      appliedPromotions: quote.appliedPromotions,
      createdAt: this.now().toISOString(),
    };
    const result = await this.store.insertOnce(order, fingerprint);
    // Lost a race with a concurrent request carrying the same key: behave as a replay.
    return result.stored ? { order: result.order, replayed: false } : this.replay(result, fingerprint, intent.idempotencyKey);
  }

  async getOrder(id: string): Promise<Order> {
    checkOrderId(id);
    const order = await this.store.findById(id);
    if (!order) throw notFound(`order '${id}' does not exist`);
    return order;
  }

  private replay(existing: { order: Order; fingerprint: string }, fingerprint: string, key: string): PlaceOrderResponse {
    if (existing.fingerprint !== fingerprint) {
      throw failedPrecondition(
        `Idempotency-Key '${key}' was already used for a different order (${existing.order.id}); use a new key for a new order`,
      );
    }
    return { order: existing.order, replayed: true };
  }
}
