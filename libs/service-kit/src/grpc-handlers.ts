import * as grpc from '@grpc/grpc-js';
import type { INestApplicationContext } from '@nestjs/common';
import { ModulesContainer } from '@nestjs/core';
import type { MethodDefinition, ServiceDefinition } from '@grpc/proto-loader';
import type { Logger } from './logger.js';
import { RpcRecorder, type ServiceMetrics } from './metrics.js';
import { REQUEST_ID_HEADER, acceptRequestId, runWithRequestContext } from './request-context.js';
import { statusName, toGrpcStatus } from './grpc-status.js';
import { tagActiveSpan } from './trace-context.js';

/** Where Nest's `@GrpcMethod` (which ts-proto's `…ControllerMethods()` decorators apply) keeps its pattern. */
const PATTERN_METADATA = 'microservices:pattern';

type Handler = (request: unknown, metadata: grpc.Metadata, call: grpc.ServerUnaryCall<unknown, unknown>) => unknown;

/**
 * The `@GrpcMethod` handlers of every controller in a Nest application context, keyed "CatalogService/getProduct"
 * (the service's short name and the method's camelCase name, as ts-proto's decorators write them).
 */
export function collectGrpcHandlers(app: INestApplicationContext): Map<string, Handler> {
  const handlers = new Map<string, Handler>();
  for (const module of app.get(ModulesContainer).values()) {
    for (const wrapper of module.controllers.values()) {
      const instance = wrapper.instance as Record<string, unknown> | undefined;
      if (!instance) continue;
      let prototype = Object.getPrototypeOf(instance) as object | null;
      while (prototype && prototype !== Object.prototype) {
        for (const key of Object.getOwnPropertyNames(prototype)) {
          const method = (prototype as Record<string, unknown>)[key];
          if (typeof method !== 'function' || key === 'constructor') continue;
          const patterns = Reflect.getMetadata(PATTERN_METADATA, method) as
            { service: string; rpc: string; streaming: string }[] | undefined;
          for (const pattern of patterns ?? []) {
            if (pattern.streaming !== 'no_stream') throw new Error(`${pattern.service}.${pattern.rpc}: only unary methods are served`);
            handlers.set(`${pattern.service}/${pattern.rpc}`, (method as Handler).bind(instance));
          }
        }
        prototype = Object.getPrototypeOf(prototype) as object | null;
      }
    }
  }
  return handlers;
}

export interface CallWrapperOptions {
  readonly serviceName: string;
  readonly logger: Logger;
  readonly metrics: ServiceMetrics;
}

/**
 * The grpc-js implementation of one service: every method of its contract bound to the controller's handler (or
 * UNIMPLEMENTED, named). This is the whole per-call path of a Strata server — it replaces Nest's gRPC transport,
 * whose interceptor pipeline and rxjs plumbing cost about a fifth of a call's CPU (docs/performance.md):
 *   adopt the caller's request id and deadline (an AsyncLocalStorage context, so logs and outgoing calls carry
 *   them), refuse a call whose deadline has passed, run the handler, map what it threw to a status with a readable
 *   message, record metrics.
 */
export function grpcImplementation(
  definition: ServiceDefinition,
  shortName: string,
  handlers: Map<string, Handler>,
  options: CallWrapperOptions,
): grpc.UntypedServiceImplementation {
  const implementation: grpc.UntypedServiceImplementation = {};
  for (const [name, method] of Object.entries(definition) as [string, MethodDefinition<unknown, unknown>][]) {
    const rpc = method.originalName ?? name;
    if (method.requestStream || method.responseStream) continue;
    const handler = handlers.get(`${shortName}/${rpc}`);
    implementation[name] = handler ? wrapUnary(handler, rpc, options) : unimplemented(`${shortName}.${name}`);
  }
  return implementation;
}

function unimplemented(what: string): grpc.handleUnaryCall<unknown, unknown> {
  return (_call, callback) => callback({ code: grpc.status.UNIMPLEMENTED, details: `${what} is not implemented by this server` });
}

function wrapUnary(
  handler: Handler,
  method: string,
  { serviceName, logger, metrics }: CallWrapperOptions,
): grpc.handleUnaryCall<unknown, unknown> {
  // Label children are looked up once per (method, code), not per call.
  const recorder = new RpcRecorder(metrics.serverHandled, metrics.serverLatency, serviceName, method, statusName);
  const debug = logger.isLevelEnabled('debug');
  return (call, callback) => {
    const started = performance.now();
    const requestId = acceptRequestId(call.metadata.get(REQUEST_ID_HEADER)[0]);
    tagActiveSpan(requestId);
    const raw = call.getDeadline();
    const deadline = raw instanceof Date ? raw.getTime() : Number.isFinite(raw) ? raw : undefined;

    const succeed = (response: unknown) => {
      const seconds = (performance.now() - started) / 1000;
      recorder.record(grpc.status.OK, seconds);
      if (debug) logger.debug({ requestId, method, ms: seconds * 1000 }, 'call served');
      callback(null, response);
    };
    const fail = (error: unknown) => {
      const { code, message } = toGrpcStatus(error, requestId);
      const seconds = (performance.now() - started) / 1000;
      recorder.record(code, seconds);
      if (code === grpc.status.INTERNAL || code === grpc.status.UNKNOWN)
        logger.error({ requestId, method, err: error }, 'unexpected error in handler');
      else logger.info({ requestId, method, code: statusName(code), ms: seconds * 1000 }, message);
      callback({ code, details: message });
    };

    if (deadline !== undefined && deadline <= Date.now()) {
      fail(
        Object.assign(new Error(), {
          code: grpc.status.DEADLINE_EXCEEDED,
          details: `deadline expired before ${serviceName}.${method} started`,
        }),
      );
      return;
    }
    let result: unknown;
    try {
      result = runWithRequestContext({ requestId, deadline }, () => handler(call.request, call.metadata, call));
    } catch (error) {
      fail(error);
      return;
    }
    if (isThenable(result)) result.then(succeed, fail);
    else if (isSubscribable(result)) {
      let last: unknown;
      result.subscribe({ next: (value) => (last = value), error: fail, complete: () => succeed(last) });
    } else succeed(result);
  };
}

const isThenable = (value: unknown): value is PromiseLike<unknown> => typeof (value as PromiseLike<unknown>)?.then === 'function';
type Subscribable = { subscribe(observer: { next(value: unknown): void; error(error: unknown): void; complete(): void }): unknown };
const isSubscribable = (value: unknown): value is Subscribable => typeof (value as Subscribable)?.subscribe === 'function';
