import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import type { RequestTrace } from './trace-context.js';

/** Metadata / HTTP header that carries the request id across every hop. */
export const REQUEST_ID_HEADER = 'x-request-id';

/** What one request carries through a service: its id (for logs), its deadline and its trace (for outgoing calls). */
export interface RequestContext {
  readonly requestId: string;
  /** Epoch milliseconds after which nobody is waiting for the answer any more; undefined = none. */
  readonly deadline?: number;
  /** Its span, or the traceparent to pass on; undefined with tracing off. */
  readonly trace?: RequestTrace;
}

const storage = new AsyncLocalStorage<RequestContext>();

/** Runs `fn` with `context` visible to every log line and outgoing call made inside it. */
export function runWithRequestContext<T>(context: RequestContext, fn: () => T): T {
  return storage.run(context, fn);
}

/** The context of the request being served, if any. */
export function currentRequestContext(): RequestContext | undefined {
  return storage.getStore();
}

const REQUEST_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;

/** Keeps a well-formed incoming id (so a trace spans systems) and replaces anything else. */
export function acceptRequestId(candidate: unknown): string {
  return typeof candidate === 'string' && REQUEST_ID_PATTERN.test(candidate) ? candidate : randomUUID();
}
