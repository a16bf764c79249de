import 'reflect-metadata';
import { startTracing } from '@strata/service-kit/tracing';

// Tracing patches grpc-js, pg and Fastify as they are imported, so it starts before the service's own modules load.
const tracing = await startTracing('orders');
const { stopOnSignals } = await import('@strata/service-kit');
const { startOrders } = await import('./orders-service.js');

stopOnSignals(await startOrders(), tracing.shutdown);
