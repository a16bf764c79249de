import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  BadRequestException,
  Body,
  Catch,
  Controller,
  Get,
  Headers,
  Injectable,
  Module,
  Param,
  Post,
  UseFilters,
  UseGuards,
  UseInterceptors,
  type ArgumentsHost,
  type CallHandler,
  type CanActivate,
  type ExceptionFilter,
  type ExecutionContext,
  type NestInterceptor,
  type PipeTransform,
} from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { map, type Observable } from 'rxjs';
import { notFound } from '@strata/domain-errors';
import { loadConfig } from './config.js';
import { httpEdgeEnv, startHttpEdge, type RunningHttpEdge } from './http-edge.js';
import { currentRequestContext } from './request-context.js';

const ran: string[] = [];

@Injectable()
class TeamKeyGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    ran.push('guard');
    return context.switchToHttp().getRequest<FastifyRequest>().headers['x-team-key'] === 'open';
  }
}

class ShoutPipe implements PipeTransform<string, string> {
  transform(value: string): string {
    ran.push('pipe');
    if (value === 'quiet') throw new BadRequestException('name: must not be quiet (team pipe)');
    return value.toUpperCase();
  }
}

@Injectable()
class WrapInterceptor implements NestInterceptor {
  intercept(_context: ExecutionContext, next: CallHandler): Observable<unknown> {
    ran.push('interceptor');
    return next.handle().pipe(map((body: unknown) => ({ wrapped: body })));
  }
}

class TeapotError extends Error {}

@Catch(TeapotError)
class TeapotFilter implements ExceptionFilter {
  catch(exception: TeapotError, host: ArgumentsHost): void {
    ran.push('filter');
    void host.switchToHttp().getResponse<FastifyReply>().status(418).send({ teapot: exception.message });
  }
}

@Controller('team')
@UseFilters(TeapotFilter)
class TeamController {
  @Get('hello/:name')
  @UseGuards(TeamKeyGuard)
  @UseInterceptors(WrapInterceptor)
  hello(@Param('name', new ShoutPipe()) name: string, @Headers('x-request-id') header: string | undefined) {
    const context = currentRequestContext();
    ran.push('handler');
    return { hello: name, requestId: context?.requestId, header, budgetMs: context?.deadline ? context.deadline - Date.now() : undefined };
  }

  @Post('echo')
  echo(@Body() body: unknown) {
    return { echo: body };
  }

  @Get('missing')
  missing(): never {
    throw notFound("product 'p-000404' does not exist");
  }

  @Get('teapot')
  teapot(): never {
    throw new TeapotError('short and stout');
  }

  @Get('broken')
  broken(): never {
    throw new Error('secret detail at 10.0.0.7');
  }
}
@Module({ controllers: [TeamController] })
class TeamModule {}

describe("the HTTP edge on Nest's Fastify adapter: a team's guard, pipe, interceptor and filter, and the kit's own answers", () => {
  let edge: RunningHttpEdge<Record<never, never>>;
  const get = (path: string, headers: Record<string, string> = {}) => fetch(`${edge.url}${path}`, { headers });
  const errorOf = async (response: Response) =>
    ((await response.json()) as { error: { code: string; message: string; requestId: string } }).error;

  before(async () => {
    const config = loadConfig(httpEdgeEnv, {
      GATEWAY_PORT: '0',
      LOG_LEVEL: 'silent',
      SHUTDOWN_DELAY_MS: '0',
      REQUEST_TIMEOUT_MS: '4000',
      MAX_BODY_BYTES: '2048',
    });
    edge = await startHttpEdge({ name: 'team-edge', config, module: TeamModule });
  });
  after(() => edge.stop());

  it("runs the guard, the interceptor, the pipe and the handler in Nest's order, the handler inside the request context", async () => {
    ran.length = 0;
    const response = await get('/team/hello/ada', { 'x-team-key': 'open', 'x-request-id': 'edge-req-1' });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('x-request-id'), 'edge-req-1');
    const body = (await response.json()) as { wrapped: { hello: string; requestId: string; budgetMs: number } };
    assert.equal(body.wrapped.hello, 'ADA', 'the pipe ran');
    assert.equal(body.wrapped.requestId, 'edge-req-1');
    assert.ok(body.wrapped.budgetMs > 3_000 && body.wrapped.budgetMs <= 4_000, `budget ${body.wrapped.budgetMs} ms`);
    assert.deepEqual(ran, ['guard', 'interceptor', 'pipe', 'handler']);
  });

  it("the guard's refusal is 403 in the edge's error body", async () => {
    ran.length = 0;
    const response = await get('/team/hello/ada');
    assert.equal(response.status, 403);
    assert.equal((await errorOf(response)).code, 'permission_denied');
    assert.deepEqual(ran, ['guard']);
  });

  it("the pipe's BadRequestException is 400 with the pipe's message", async () => {
    const response = await get('/team/hello/quiet', { 'x-team-key': 'open' });
    assert.equal(response.status, 400);
    assert.equal((await errorOf(response)).message, 'name: must not be quiet (team pipe)');
  });

  it("the team's filter answers its own error; a domain error and an unknown one get the kit's mapping", async () => {
    const teapot = await get('/team/teapot');
    assert.equal(teapot.status, 418);
    assert.deepEqual(await teapot.json(), { teapot: 'short and stout' });
    const missing = await get('/team/missing');
    assert.equal(missing.status, 404);
    assert.equal((await errorOf(missing)).message, "product 'p-000404' does not exist");
    const broken = await get('/team/broken', { 'x-request-id': 'edge-req-2' });
    assert.equal(broken.status, 500);
    const error = await errorOf(broken);
    assert.equal(error.message, 'internal error in the edge; the request id edge-req-2 leads to its log');
    assert.doesNotMatch(JSON.stringify(error), /10\.0\.0\.7/);
  });

  it('answers an unknown path 404, a wrong method on a known path 405 with Allow', async () => {
    assert.equal((await get('/team/nothing')).status, 404);
    const wrong = await fetch(`${edge.url}/team/echo`);
    assert.equal(wrong.status, 405);
    assert.equal(wrong.headers.get('allow'), 'POST');
    assert.equal((await errorOf(wrong)).message, 'GET is not allowed on /team/echo; use POST');
    const deleted = await fetch(`${edge.url}/team/hello/x`, { method: 'DELETE' });
    assert.equal(deleted.status, 405);
    assert.equal(deleted.headers.get('allow'), 'GET, HEAD');
  });

  it('refuses bodies before any handler: bad JSON 400, too large 413, not JSON 415 (Fastify, through the same filter)', async () => {
    const post = (body: string, type = 'application/json') =>
      fetch(`${edge.url}/team/echo`, { method: 'POST', body, headers: { 'content-type': type } });
    const ok = await post('{"a":1}');
    assert.equal(ok.status, 201);
    assert.deepEqual(await ok.json(), { echo: { a: 1 } });
    const bad = await post('{"a":');
    assert.equal(bad.status, 400);
    assert.equal((await errorOf(bad)).message, 'the body is not valid JSON');
    const large = await post(JSON.stringify({ a: 'x'.repeat(4_000) }));
    assert.equal(large.status, 413);
    assert.equal((await errorOf(large)).message, 'the body is too large for this API (at most 2048 bytes)');
    const text = await post('hello', 'text/plain');
    assert.equal(text.status, 415);
    const form = await post('a=1', 'application/x-www-form-urlencoded');
    assert.equal(form.status, 415, 'only JSON is parsed');
  });

  it('serves /healthz, /readyz and /metrics with the route-labelled request metric', async () => {
    assert.equal((await get('/healthz')).status, 200);
    assert.equal((await get('/readyz')).status, 200);
    const text = await (await get('/metrics')).text();
    assert.match(text, /http_requests_total\{method="GET",route="\/team\/hello\/:name",status="200"[^}]*\} [1-9]/);
  });
});
