import 'reflect-metadata';
import { startTracing } from '@strata/service-kit/tracing';

// Tracing patches grpc-js, pg and Fastify as they are imported, so it starts before the service's own modules load.
const tracing = await startTracing('gateway');
const { stopOnSignals } = await import('@strata/service-kit');
const { startGateway } = await import('./gateway-app.js');

stopOnSignals(await startGateway(), tracing.shutdown);
