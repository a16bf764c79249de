import { Controller, Inject } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import {
  CatalogServiceControllerMethods,
  type BatchGetProductsRequest,
  type BatchGetProductsResponse,
  type CatalogServiceController,
  type GetProductRequest,
  type GetProductResponse,
  type SearchProductsRequest,
  type SearchProductsResponse,
} from '@strata/contracts/catalog/v1';
import { ProductCatalog } from './domain/product-catalog.js';

/** Translates strata.catalog.v1.CatalogService calls to the ProductCatalog. */
@Controller()
@CatalogServiceControllerMethods()
export class CatalogController implements CatalogServiceController {
  constructor(@Inject(ProductCatalog) private readonly catalog: ProductCatalog) {}

  getProduct(@Payload() request: GetProductRequest): GetProductResponse {
    return { product: this.catalog.getProduct(request.id) };
  }

  batchGetProducts(@Payload() request: BatchGetProductsRequest): BatchGetProductsResponse {
    return this.catalog.batchGet(request.ids);
  }

  searchProducts(@Payload() request: SearchProductsRequest): SearchProductsResponse {
    return this.catalog.search(request);
  }
}
