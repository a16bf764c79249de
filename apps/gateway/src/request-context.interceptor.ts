import type { CallHandler, ExecutionContext, NestInterceptor } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { Observable } from 'rxjs';
import { runWithRequestContext } from '@strata/service-kit';

/**
 * Gives every API request its context: the request id (from `x-request-id` or new) and a deadline that
 * every gRPC call below inherits, so the whole request fits in one budget.
 */
export class RequestContextInterceptor implements NestInterceptor {
  constructor(private readonly budgetMs: number) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    const store = { requestId: String(request.id), deadline: Date.now() + this.budgetMs };
    return new Observable((subscriber) => runWithRequestContext(store, () => next.handle().subscribe(subscriber)));
  }
}
