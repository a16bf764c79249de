import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { status } from '@grpc/grpc-js';
import type { PricingServiceClient } from '@strata/contracts/pricing/v1';
import { checkHealth, createGrpcClient, type PromiseClient, type RunningGrpcService } from '@strata/service-kit';
import { freePort } from '@strata/dev-kit';
import { PRICING_SERVICE, startPricing } from './pricing-service.js';

describe('pricing over real gRPC on loopback', () => {
  let service: RunningGrpcService;
  let client: PromiseClient<PricingServiceClient>;
  let address: string;

  before(async () => {
    const grpcPort = await freePort();
    address = `127.0.0.1:${grpcPort}`;
    service = await startPricing({ GRPC_PORT: String(grpcPort), METRICS_PORT: String(await freePort()), LOG_LEVEL: 'warn' });
    client = createGrpcClient<PricingServiceClient>(PRICING_SERVICE, { target: `ipv4:${address}`, timeoutMs: 2_000 });
  });
  after(async () => {
    client.close();
    await service.stop();
  });

  it('is SERVING and quotes in integer minor units', async () => {
    assert.equal(await checkHealth(address, PRICING_SERVICE), 'SERVING');
    const quote = await client.quote({
      lines: [{ productId: 'p-000001', category: 'books', quantity: 2, unitPrice: { currencyCode: 'EUR', minorUnits: 1250 } }],
      currencyCode: 'USD',
      promotionCode: 'BOOKS20',
      countryCode: 'FR',
    });
    // 12.50 EUR → 13.50 USD; ×2 = 27.00; −20 % = 5.40; tax 20 % of 21.60 = 4.32
    assert.deepEqual(quote.total, { currencyCode: 'USD', minorUnits: 2700 - 540 + 432 });
  });

  it('answers INVALID_ARGUMENT naming the field', async () => {
    await assert.rejects(
      client.quote({
        lines: [{ productId: 'p-1', category: '', quantity: 5000, unitPrice: { currencyCode: 'EUR', minorUnits: 1 } }],
        currencyCode: '',
        promotionCode: '',
        countryCode: '',
      }),
      (e: { code: number; details: string }) => e.code === status.INVALID_ARGUMENT && /lines\[0\]\.quantity/.test(e.details),
    );
  });
});
