// k6 over gRPC, straight to one catalog replica (no gateway), with the contract from server reflection:
//   k6 run -e TARGET=127.0.0.1:50051 -e RATE=100 loadtests/k6/grpc-catalog.js
// In Kubernetes the Service is headless and internal: kubectl -n strata port-forward deploy/catalog 50051:50051
import { grpcGetProduct } from '../scenarios/catalog.js';
import { grpcIteration, grpcOptions, grpcSetup } from './lib/options.js';

export const options = grpcOptions('grpc-catalog');
export const setup = grpcSetup;
export default grpcIteration(grpcGetProduct);
