import 'reflect-metadata';
import { startTracing } from '@strata/service-kit/tracing';

// Tracing patches grpc-js, pg and Fastify as they are imported, so it starts before the service's own modules load.
const tracing = await startTracing('catalog');
const { stopOnSignals } = await import('@strata/service-kit');
const { startCatalog } = await import('./catalog-service.js');

stopOnSignals(await startCatalog(), tracing.shutdown);
