import { status } from '@grpc/grpc-js';

/**
 * The HTTP status for a gRPC status from an upstream service. Client mistakes stay 4xx; an upstream that
 * is down or slow is 503/504 (worth retrying); anything else is 502 (the edge itself did not fail).
 */
export function httpStatusFor(code: number): number {
  switch (code) {
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

/** The machine-readable code of an HTTP error body, for each status the gateway answers. */
export function errorCodeFor(httpStatus: number): string {
  const names: Record<number, string> = {
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
  return names[httpStatus] ?? (httpStatus >= 500 ? 'internal' : 'bad_request');
}
