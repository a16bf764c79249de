import { Controller, Inject } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import {
  OrdersServiceControllerMethods,
  type GetOrderRequest,
  type GetOrderResponse,
  type OrdersServiceController,
  type PlaceOrderRequest,
  type PlaceOrderResponse,
} from '@strata/contracts/orders/v1';
import { OrderPlacement } from './domain/order-placement.js';

/** Translates strata.orders.v1.OrdersService calls to OrderPlacement. */
@Controller()
@OrdersServiceControllerMethods()
export class OrdersController implements OrdersServiceController {
  constructor(@Inject(OrderPlacement) private readonly orders: OrderPlacement) {}

  placeOrder(@Payload() request: PlaceOrderRequest): Promise<PlaceOrderResponse> {
    return this.orders.placeOrder(request);
  }

  async getOrder(@Payload() request: GetOrderRequest): Promise<GetOrderResponse> {
    return { order: await this.orders.getOrder(request.id) };
  }
}
