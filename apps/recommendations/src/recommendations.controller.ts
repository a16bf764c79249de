import { Controller, Inject } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import {
  RecommendationsServiceControllerMethods,
  type GetRecommendationsRequest,
  type GetRecommendationsResponse,
  type RecommendationsServiceController,
} from '@strata/contracts/recommendations/v1';
import { Recommender } from './domain/recommender.js';

/** Translates strata.recommendations.v1.RecommendationsService calls to the Recommender. */
@Controller()
@RecommendationsServiceControllerMethods()
export class RecommendationsController implements RecommendationsServiceController {
  constructor(@Inject(Recommender) private readonly recommender: Recommender) {}

  getRecommendations(@Payload() request: GetRecommendationsRequest): Promise<GetRecommendationsResponse> {
    return this.recommender.recommend(request.productId, request.limit);
  }
}
