#!/usr/bin/env node
// Container HEALTHCHECK: exits 0 when the gRPC server at argv[2] (default 127.0.0.1:$GRPC_PORT) is SERVING.
// Kubernetes asks the same grpc.health.v1 service natively; Docker needs a command.
import { checkHealth } from './grpc-health.js';

const address = process.argv[2] ?? `127.0.0.1:${process.env.GRPC_PORT ?? 50051}`;
checkHealth(address, process.argv[3] ?? '', 1_500).then(
  (status) => process.exit(status === 'SERVING' ? 0 : 1),
  () => process.exit(1),
);
