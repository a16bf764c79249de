import { Controller, Inject } from '@nestjs/common';
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

  getProduct(request: GetProductRequest): GetProductResponse {
    return { product: this.catalog.getProduct(request.id) };
  }

  batchGetProducts(request: BatchGetProductsRequest): BatchGetProductsResponse {
    return this.catalog.batchGet(request.ids);
  }

  searchProducts(request: SearchProductsRequest): SearchProductsResponse {
    return this.catalog.search(request);
  }
}
