import { status } from '@grpc/grpc-js';
import { DomainError, type DomainErrorKind } from '@strata/domain-errors';

const KIND_TO_STATUS: Record<DomainErrorKind, status> = {
  invalid_argument: status.INVALID_ARGUMENT,
  not_found: status.NOT_FOUND,
  already_exists: status.ALREADY_EXISTS,
  failed_precondition: status.FAILED_PRECONDITION,
  resource_exhausted: status.RESOURCE_EXHAUSTED,
  unavailable: status.UNAVAILABLE,
  deadline_exceeded: status.DEADLINE_EXCEEDED,
};

/** A gRPC status with a message a person can act on. */
export interface GrpcStatusError {
  code: status;
  message: string;
}

/** True for errors that came back from another gRPC service (grpc-js ServiceError). */
export function isGrpcError(error: unknown): error is Error & { code: status; details: string } {
  return (
    error instanceof Error &&
    typeof (error as { code?: unknown }).code === 'number' &&
    typeof (error as { details?: unknown }).details === 'string'
  );
}

/**
 * Maps anything a handler threw to the status the caller sees — the one mapping every hop uses (the gateway then
 * maps the status to HTTP). Domain errors keep their kind; a downstream gRPC error keeps its code and message;
 * anything else is INTERNAL with no stack trace or address in it (the log has the details, under the same request id).
 */
export function toGrpcStatus(error: unknown, requestId: string): GrpcStatusError {
  if (error instanceof DomainError) return { code: KIND_TO_STATUS[error.kind], message: error.message };
  if (isGrpcError(error)) return { code: error.code, message: error.details };
  return { code: status.INTERNAL, message: `internal error (request id ${requestId}); the service log has the details` };
}

/** The enum name of a status code, for metrics and logs ("NOT_FOUND"). */
export function statusName(code: number): string {
  return status[code] ?? String(code);
}
