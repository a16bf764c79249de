// The runtime kit of a Strata gRPC service. The HTTP edge lives at `@strata/service-kit/http-edge` (it loads
// Fastify, which gRPC services do not need); domain errors at `@strata/domain-errors`; test helpers at
// `@strata/test-kit`, which no production image contains.
export * from './config.js';
export * from './grpc-client.js';
export * from './grpc-health.js';
export * from './grpc-server.js';
export * from './grpc-status.js';
export * from './kit-tokens.js';
export * from './local-resolver.js';
export * from './logger.js';
export * from './metrics.js';
export * from './protos.js';
export * from './request-context.js';
export * from './stop-sequence.js';
export * from './trace-context.js';
export * from './upstreams.js';
