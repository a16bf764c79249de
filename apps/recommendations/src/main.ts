import 'reflect-metadata';
import { startTracing } from '@strata/service-kit/tracing';

// Tracing patches grpc-js, pg and Fastify as they are imported, so it starts before the service's own modules load.
const tracing = await startTracing('recommendations');
const { stopOnSignals } = await import('@strata/service-kit');
const { startRecommendations } = await import('./recommendations-service.js');

stopOnSignals(await startRecommendations(), tracing.shutdown);
