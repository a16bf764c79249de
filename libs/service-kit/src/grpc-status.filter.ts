import type * as grpc from '@grpc/grpc-js';
import { Catch, Inject, type ArgumentsHost, type RpcExceptionFilter } from '@nestjs/common';
import { throwError, type Observable } from 'rxjs';
import { grpcStatusOf, logOutcome, methodOf } from './grpc-outcome.js';
import { KIT_LOGGER } from './kit-tokens.js';
import type { Logger } from './logger.js';
import { REQUEST_ID_HEADER, acceptRequestId, currentRequestContext } from './request-context.js';

/**
 * Strata's error mapping as a Nest exception filter (registered globally by the kit, `APP_FILTER`): whatever a
 * handler, pipe, guard or interceptor threw becomes a gRPC status with a message a person can act on
 * (`grpcStatusOf`: domain errors keep their kind, a downstream status keeps its code and message, Nest's RpcException
 * and HttpException keep what they say, anything else is INTERNAL without internals), logged under the call's request
 * id (an unexpected one with its stack). A team's own filter on a controller or method is chosen before this one.
 */
@Catch()
export class GrpcStatusFilter implements RpcExceptionFilter<unknown> {
  constructor(@Inject(KIT_LOGGER) private readonly logger: Logger) {}

  catch(exception: unknown, host: ArgumentsHost): Observable<never> {
    // The transport runs Nest's pipeline inside the call's request context; a call that did not come through it
    // (a test's direct invocation) gets an id from its metadata.
    const requestId =
      currentRequestContext()?.requestId ?? acceptRequestId(host.getArgByIndex<grpc.Metadata | undefined>(1)?.get?.(REQUEST_ID_HEADER)[0]);
    const { code, message } = grpcStatusOf(exception, requestId);
    const method = methodOf(host.getArgByIndex<grpc.ServerUnaryCall<unknown, unknown> | undefined>(2));
    logOutcome(this.logger, { requestId, method, code, message, error: exception });
    // grpc-js sends `{ code, details }` as the call's status.
    return throwError(() => ({ code, details: message }));
  }
}
