import { Controller } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import {
  PricingServiceControllerMethods,
  type PricingServiceController,
  type QuoteRequest,
  type QuoteResponse,
} from '@strata/contracts/pricing/v1';
import { calculateQuote } from './domain/quote-calculator.js';

/** Translates strata.pricing.v1.PricingService calls to the quote calculator. */
@Controller()
@PricingServiceControllerMethods()
export class PricingController implements PricingServiceController {
  quote(@Payload() request: QuoteRequest): QuoteResponse {
    return calculateQuote(request);
  }
}
