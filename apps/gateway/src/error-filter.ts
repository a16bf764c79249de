import { Catch, HttpException, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { DomainError, isGrpcError, type Logger } from '@strata/service-kit';
import { ValidationError } from './api-schemas.js';
import { errorCodeFor, httpStatusFor } from './http-status.js';

/** The JSON body of every error the gateway answers. */
export interface ErrorBody {
  error: { status: number; code: string; message: string; requestId: string };
}

/**
 * Turns every failure into `{"error": {status, code, message, requestId}}`: validation problems and
 * upstream gRPC statuses keep their meaning (400, 404, 409, 503, 504, …); parser errors keep Fastify's
 * status (400 bad JSON, 413 too large, 415 wrong type); nothing leaks a stack trace or an address.
 */
@Catch()
export class ErrorFilter implements ExceptionFilter {
  constructor(private readonly logger: Logger) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const request = host.switchToHttp().getRequest<FastifyRequest>();
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    const { status, message } = this.describe(exception);
    if (status >= 500) this.logger.warn({ requestId: request.id, status, err: exception }, 'request failed');
    if (status === 503 || status === 429) reply.header('retry-after', '1');
    const body: ErrorBody = { error: { status, code: errorCodeFor(status), message, requestId: String(request.id) } };
    reply.status(status).header('content-type', 'application/json; charset=utf-8').send(body);
  }

  private describe(exception: unknown): { status: number; message: string } {
    if (exception instanceof ValidationError) return { status: 400, message: exception.message };
    if (exception instanceof DomainError)
      return {
        status: exception.kind === 'invalid_argument' ? 400 : exception.kind === 'not_found' ? 404 : 409,
        message: exception.message,
      };
    if (isGrpcError(exception)) {
      const status = httpStatusFor(exception.code);
      if (status === 503)
        return { status, message: `a service behind the gateway is unavailable; retry shortly (${exception.details.slice(0, 120)})` };
      if (status === 504)
        return { status, message: 'a service behind the gateway did not answer within the request deadline; retry shortly' };
      if (status === 502) return { status, message: 'a service behind the gateway failed; the request id leads to its log' };
      return { status, message: exception.details };
    }
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      if (status === 404) return { status, message: 'no such endpoint; see the README for the API' };
      const response = exception.getResponse();
      const message =
        typeof response === 'string'
          ? response
          : String((response as { message?: unknown }).message ?? (response as { status?: unknown }).status ?? exception.message);
      return { status, message };
    }
    // Fastify's content-type parser errors (bad JSON, too large, unsupported type) carry their status.
    const statusCode = (exception as { statusCode?: unknown })?.statusCode;
    if (typeof statusCode === 'number' && statusCode >= 400 && statusCode < 500) {
      const messages: Record<number, string> = {
        400: 'the body is not valid JSON',
        413: 'the body is larger than this API accepts',
        415: 'send the body as application/json',
      };
      return { status: statusCode, message: messages[statusCode] ?? String((exception as Error).message) };
    }
    return { status: 500, message: 'internal error in the gateway; the request id leads to its log' };
  }
}
