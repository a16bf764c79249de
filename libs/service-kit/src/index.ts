// The runtime kit of a Strata gRPC service: what apps and tools use, and no more (the rest is the kit's own). The HTTP
// edge lives at `@strata/service-kit/http-edge` (it loads Fastify, which gRPC services do not need), tracing's start at
// `@strata/service-kit/tracing-preload` (Node's `--import`, SERVICE_NODE_OPTIONS), the local cluster's name resolver at `@strata/service-kit/local-resolver` (loaded
// only where `npm start` runs a replica, never in an image); domain errors at `@strata/domain-errors`; test helpers
// at `@strata/dev-kit`, which no production image contains.
export {
  grpcServiceEnv,
  loadConfig,
  localDefault,
  ownPorts,
  upstreamEnv,
  upstreamTargets,
  type DeclaredService,
  type GrpcService,
  type GrpcServiceEnv,
} from './config.js';
export { STANDALONE_PORTS } from './standalone-ports.js';
export { createGrpcClient, LOAD_BALANCING_CONFIG, type CallOptions, type GrpcClientOptions, type PromiseClient } from './grpc-client.js';
export { balancerWeight, cpuLimitCores, LOAD_REPORT_WINDOW_MS, LoadReporter, type LoadSample } from './load-report.js';
export { checkHealth, waitForServing } from './grpc-health.js';
export { grpcModule } from './grpc-module.js';
export { startGrpcService, type GrpcServiceSpec, type RunningGrpcService, type ServiceKit } from './grpc-server.js';
export { statusName } from './grpc-status.js';
export { KIT_CONFIG, KIT_LOGGER, KIT_METRICS, KIT_UPSTREAMS } from './kit-tokens.js';
export { ServiceMetrics } from './metrics.js';
export { loadStrataProtos, serviceDefinition } from './protos.js';
export { stopOnSignals } from './stop-sequence.js';
export { upstream, type UpstreamClients, type UpstreamRef, type UpstreamRefs } from './upstreams.js';
