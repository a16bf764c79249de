/**
 * Errors that domain code throws. They import nothing from gRPC or Nest, so the domain stays plain
 * TypeScript; the server plumbing turns each kind into its gRPC status code.
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
export const failedPrecondition = (message: string) => new DomainError('failed_precondition', message);
export const unavailable = (message: string) => new DomainError('unavailable', message);
