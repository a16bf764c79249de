import { status } from '@grpc/grpc-js';
import { Controller, Module, type Type } from '@nestjs/common';
import { GrpcMethod, RpcException } from '@nestjs/microservices';
import { serviceDefinition } from './protos.js';

/**
 * A Nest module that serves plain objects as gRPC services, keyed by the service's full name:
 *
 *     grpcModule({ 'strata.catalog.v1.CatalogService': { getProduct: ({ id }) => ({ product: … }) } })
 *
 * Each object's methods are ts-proto's controller methods (lowerCamelCase rpc names); every rpc it lacks answers
 * UNIMPLEMENTED, naming the rpc. For stand-ins (tests, the bench), where a controller class per service with a
 * throwing stub for every rpc it does not use is ceremony. The methods are registered with Nest's own `@GrpcMethod`,
 * as ts-proto's `…ControllerMethods()` registers a controller's, so they run through the kit's interceptors and
 * filters as a real controller does.
 */
export function grpcModule(services: Readonly<Record<string, object>>): Type {
  const controllers = Object.entries(services).map(([fullName, handlers]) => {
    const shortName = fullName.slice(fullName.lastIndexOf('.') + 1);
    const controller = class {};
    Object.defineProperty(controller, 'name', { value: `${shortName}StandIn` });
    const own = handlers as Record<string, unknown>;
    for (const rpc of Object.keys(serviceDefinition(fullName))) {
      const method = rpc[0]!.toLowerCase() + rpc.slice(1);
      const handler = own[method];
      const value =
        typeof handler === 'function'
          ? (...args: unknown[]) => (handler as (...a: unknown[]) => unknown).apply(handlers, args)
          : () => {
              throw new RpcException({ code: status.UNIMPLEMENTED, message: `${fullName}/${rpc} is not implemented by this stand-in` });
            };
      const descriptor: PropertyDescriptor = { value, writable: true, configurable: true, enumerable: false };
      GrpcMethod(shortName, method)(controller.prototype, method, descriptor);
      Object.defineProperty(controller.prototype, method, descriptor);
    }
    for (const method of Object.keys(own))
      if (!(method in controller.prototype)) throw new Error(`${fullName} has no rpc for the handler ${method}`);
    Controller()(controller);
    return controller;
  });
  const module = class {};
  Module({ controllers })(module);
  return module;
}
