import { status } from '@grpc/grpc-js';
import { DomainError } from '@strata/domain-errors';
import { isGrpcError, toGrpcStatus } from './grpc-status.js';

/**
 * The HTTP status for a gRPC status. Client mistakes stay 4xx; an upstream that is down or slow is 503/504 (worth
 * retrying); anything else is 502 (the edge itself did not fail).
 */
export function httpStatusFor(code: number): number {
  switch (code) {
    case status.OK:
      return 200;
    case status.INVALID_ARGUMENT:
    case status.OUT_OF_RANGE:
      return 400;
    case status.UNAUTHENTICATED:
      return 401;
    case status.PERMISSION_DENIED:
      return 403;
    case status.NOT_FOUND:
      return 404;
    case status.ALREADY_EXISTS:
    case status.FAILED_PRECONDITION:
    case status.ABORTED:
      return 409;
    case status.RESOURCE_EXHAUSTED:
      return 429;
    case status.UNIMPLEMENTED:
      return 501;
    case status.UNAVAILABLE:
      return 503;
    case status.DEADLINE_EXCEEDED:
    case status.CANCELLED:
      return 504;
    default:
      return 502;
  }
}

const ERROR_CODES: Record<number, string> = {
  400: 'invalid_argument',
  401: 'unauthenticated',
  403: 'permission_denied',
  404: 'not_found',
  405: 'method_not_allowed',
  409: 'conflict',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  429: 'resource_exhausted',
  501: 'unimplemented',
  502: 'bad_gateway',
  503: 'unavailable',
  504: 'deadline_exceeded',
};

/** The machine-readable code of an HTTP error body, for each status the edge answers. */
export function errorCodeFor(httpStatus: number): string {
  return ERROR_CODES[httpStatus] ?? (httpStatus >= 500 ? 'internal' : 'bad_request');
}

/** What the edge answers for an error: a status and a message a person can act on. */
export interface HttpError {
  status: number;
  message: string;
}

const PARSER_MESSAGES: Record<number, string> = {
  400: 'the body is not valid JSON',
  413: 'the body is too large for this API',
  415: 'send the body as application/json',
};

/**
 * The one mapping from a failure to HTTP: a domain error goes through its gRPC status (as if a service had
 * thrown it), an upstream gRPC status maps to its HTTP status, the HTTP parser's errors keep their status (400 bad
 * JSON, 413 too large, 415 wrong type); nothing else leaks a stack trace or an address.
 */
export function toHttpError(error: unknown, requestId: string): HttpError {
  if (error instanceof DomainError || isGrpcError(error)) {
    const { code, message } = toGrpcStatus(error, requestId);
    const httpStatus = httpStatusFor(code);
    if (error instanceof DomainError) return { status: httpStatus, message };
    if (httpStatus === 503)
      return { status: httpStatus, message: `a service behind the edge is unavailable; retry shortly (${message.slice(0, 120)})` };
    if (httpStatus === 504)
      return { status: httpStatus, message: 'a service behind the edge did not answer within the request deadline; retry shortly' };
    if (httpStatus === 502)
      return { status: httpStatus, message: `a service behind the edge failed; the request id ${requestId} leads to its log` };
    return { status: httpStatus, message };
  }
  const statusCode = (error as { statusCode?: unknown })?.statusCode;
  if (typeof statusCode === 'number' && statusCode >= 400 && statusCode < 500) {
    return { status: statusCode, message: PARSER_MESSAGES[statusCode] ?? String((error as Error).message).slice(0, 200) };
  }
  return { status: 500, message: `internal error in the edge; the request id ${requestId} leads to its log` };
}
