import { Module } from '@nestjs/common';
import { PRICING_SERVICE_NAME, protobufPackage } from '@strata/contracts/pricing/v1';
import { grpcServiceEnv, loadConfig, ownPorts, startGrpcService, type RunningGrpcService } from '@strata/service-kit';
import { PricingController } from './pricing.controller.js';

export const PRICING_SERVICE = `${protobufPackage}.${PRICING_SERVICE_NAME}`;

export const pricingEnv = grpcServiceEnv.extend(ownPorts('pricing'));

@Module({ controllers: [PricingController] })
class PricingModule {}

/** Starts pricing with `env` (defaults make a local run work). */
export async function startPricing(env: NodeJS.ProcessEnv = process.env): Promise<RunningGrpcService> {
  const config = loadConfig(pricingEnv, env);
  return startGrpcService({ name: 'pricing', services: [PRICING_SERVICE], config, module: PricingModule });
}
