/**
 * Errors that domain code throws. This package imports nothing (no gRPC, no Nest, no Node built-in), so
 * `apps/<service>/src/domain/` stays plain TypeScript; the server plumbing (`@strata/service-kit`) turns each kind
 * into its gRPC status, and the gateway turns that status into HTTP.
 */
export type DomainErrorKind =
  'invalid_argument' | 'not_found' | 'already_exists' | 'failed_precondition' | 'resource_exhausted' | 'unavailable' | 'deadline_exceeded';

export class DomainError extends Error {
  constructor(
    readonly kind: DomainErrorKind,
    message: string,
    /** The request field at fault, for invalid_argument. */
    readonly field?: string,
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

/** `field` is named in the message, so the caller knows what to fix. */
export const invalidArgument = (field: string, problem: string) => new DomainError('invalid_argument', `${field}: ${problem}`, field);
export const notFound = (message: string) => new DomainError('not_found', message);
export const alreadyExists = (message: string) => new DomainError('already_exists', message);
export const failedPrecondition = (message: string) => new DomainError('failed_precondition', message);
export const resourceExhausted = (message: string) => new DomainError('resource_exhausted', message);
/** Something this service depends on is down; the caller may retry (with the same idempotency key). */
export const unavailable = (message: string) => new DomainError('unavailable', message);
