import * as grpc from '@grpc/grpc-js';
import { HttpException, HttpStatus } from '@nestjs/common';
import { RpcException } from '@nestjs/microservices';
import { statusName, toGrpcStatus, type GrpcStatusError } from './grpc-status.js';
import type { Logger } from './logger.js';

/** What Nest's own exceptions mean as gRPC statuses: a team's pipe throws BadRequestException, a guard refuses. */
const HTTP_TO_GRPC: Partial<Record<number, grpc.status>> = {
  [HttpStatus.BAD_REQUEST]: grpc.status.INVALID_ARGUMENT,
  [HttpStatus.UNAUTHORIZED]: grpc.status.UNAUTHENTICATED,
  [HttpStatus.FORBIDDEN]: grpc.status.PERMISSION_DENIED,
  [HttpStatus.NOT_FOUND]: grpc.status.NOT_FOUND,
  [HttpStatus.CONFLICT]: grpc.status.ALREADY_EXISTS,
  [HttpStatus.TOO_MANY_REQUESTS]: grpc.status.RESOURCE_EXHAUSTED,
  [HttpStatus.SERVICE_UNAVAILABLE]: grpc.status.UNAVAILABLE,
};
/** The message Nest's RPC context gives a guard's refusal (`FORBIDDEN_MESSAGE`). */
const NEST_FORBIDDEN = 'Forbidden resource';

/** `toGrpcStatus`, plus the exceptions Nest itself raises or a team's pipe or guard throws in Nest's vocabulary. */
export function grpcStatusOf(exception: unknown, requestId: string): GrpcStatusError {
  if (exception instanceof RpcException) {
    const error = exception.getError();
    if (typeof error === 'object' && error !== null && typeof (error as { code?: unknown }).code === 'number')
      return { code: (error as { code: number }).code, message: String((error as { message?: unknown }).message ?? exception.message) };
    if (error === NEST_FORBIDDEN)
      return { code: grpc.status.PERMISSION_DENIED, message: 'the call was refused by a guard of this service' };
    return { code: grpc.status.UNKNOWN, message: String(error) };
  }
  if (exception instanceof HttpException) {
    const response = exception.getResponse();
    const said = typeof response === 'object' && response !== null ? (response as { message?: unknown }).message : response;
    const message = Array.isArray(said) ? said.join('; ') : String(said ?? exception.message);
    return { code: HTTP_TO_GRPC[exception.getStatus()] ?? grpc.status.UNKNOWN, message };
  }
  return toGrpcStatus(exception, requestId);
}

/** An unexpected error is logged with its stack; an expected status (NOT_FOUND, INVALID_ARGUMENT…) at info. */
export function logOutcome(
  logger: Logger,
  { requestId, method, code, message, error }: { requestId: string; method: string; code: number; message: string; error: unknown },
): void {
  if (code === grpc.status.INTERNAL || code === grpc.status.UNKNOWN)
    logger.error({ requestId, method, err: error }, 'unexpected error in handler');
  else logger.info({ requestId, method, code: statusName(code) }, message);
}

/** The controller method's name of a call ("/strata.catalog.v1.CatalogService/GetProduct" → "getProduct", as ts-proto names it). */
export function methodOf(call: { getPath?(): string } | undefined): string {
  const path = call?.getPath?.() ?? '';
  const rpc = path.slice(path.lastIndexOf('/') + 1);
  return rpc ? rpc[0]!.toLowerCase() + rpc.slice(1) : 'unknown';
}
