import { setTimeout as delay } from 'node:timers/promises';
import type { Logger } from './logger.js';
import { shutdownTracing } from './trace-context.js';

/** What one server does at each step of its graceful stop. */
export interface StopSteps {
  readonly logger: Logger;
  /** Readiness reports "not serving" this long before the server stops taking calls (k8s endpoint propagation). */
  readonly shutdownDelayMs: number;
  /** Upper bound on the drain; after it, `forceClose` cuts what is left. */
  readonly drainTimeoutMs: number;
  /** Readiness off: gRPC health NOT_SERVING, or `/readyz` 503. */
  notReady(): void;
  /** Stop accepting, let in-flight calls finish. */
  drain(): Promise<void>;
  forceClose(): void;
}

/**
 * The one stop sequence of every Strata server, gRPC or HTTP: readiness off → SHUTDOWN_DELAY_MS → drain (bounded by
 * DRAIN_TIMEOUT_MS, then `forceClose`). What the in-flight calls needed (channels, pools, ports) is closed after it, in
Nest's shutdown hooks (`kit-module.ts`). Returns an idempotent `stop()`.
 */
export function stopSequence(steps: StopSteps): () => Promise<void> {
  let stopping: Promise<void> | undefined;
  return () =>
    (stopping ??= (async () => {
      steps.notReady();
      steps.logger.info({ delayMs: steps.shutdownDelayMs }, 'shutting down: readiness off');
      await delay(steps.shutdownDelayMs);
      let timer: NodeJS.Timeout | undefined;
      const drained = await Promise.race([
        steps.drain().then(() => true),
        new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), steps.drainTimeoutMs))),
      ]);
      clearTimeout(timer);
      if (!drained) {
        steps.logger.warn({ drainTimeoutMs: steps.drainTimeoutMs }, 'drain timed out; in-flight calls cut');
        steps.forceClose();
      }
      steps.logger.info({ drained }, 'stopped');
    })());
}

/**
 * Stops the service gracefully on SIGTERM or SIGINT, then exports the spans tracing still buffers (when it is on) and
 * exits; a second signal exits at once.
 */
export function stopOnSignals(service: { stop(): Promise<void>; readonly logger: Logger }): void {
  let received = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (received) process.exit(1);
    received = true;
    service.logger.info({ signal }, 'signal received');
    service
      .stop()
      .then(() => shutdownTracing())
      .then(
        () => process.exit(0),
        (error: unknown) => {
          service.logger.error({ err: error }, 'shutdown failed');
          process.exit(1);
        },
      );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
