import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as protoLoader from '@grpc/proto-loader';

/** Every Strata contract file, relative to the proto root. */
export const STRATA_PROTO_FILES = [
  'strata/common/v1/money.proto',
  'strata/catalog/v1/catalog.proto',
  'strata/pricing/v1/pricing.proto',
  'strata/orders/v1/orders.proto',
  'strata/recommendations/v1/recommendations.proto',
];

/**
 * Loader options shared by servers and clients. `longs: Number` matches ts-proto's `forceLong=number`
 * (the int64 trap); `defaults: true` fills unset scalars the way ts-proto's types promise.
 */
export const PROTO_LOADER_OPTIONS: protoLoader.Options = {
  keepCase: false,
  longs: Number,
  enums: String,
  defaults: true,
  arrays: true,
  objects: true,
  oneofs: true,
};

let cached: protoLoader.PackageDefinition | undefined;

/** Loads the contracts once per process (shared by the server and every client). */
export function loadStrataProtos(): protoLoader.PackageDefinition {
  if (!cached) {
    const anyProto = fileURLToPath(import.meta.resolve('@strata/contracts/proto/strata/common/v1/money.proto'));
    const protoRoot = dirname(dirname(dirname(dirname(anyProto))));
    cached = protoLoader.loadSync(STRATA_PROTO_FILES, { ...PROTO_LOADER_OPTIONS, includeDirs: [protoRoot] });
  }
  return cached;
}

/** The service definition of `fullName` (for example `strata.catalog.v1.CatalogService`). */
export function serviceDefinition(fullName: string): protoLoader.ServiceDefinition {
  const definition = loadStrataProtos()[fullName];
  if (!definition || !isServiceDefinition(definition)) {
    throw new Error(`no gRPC service named ${fullName} in the Strata contracts`);
  }
  return definition;
}

function isServiceDefinition(value: unknown): value is protoLoader.ServiceDefinition {
  return typeof value === 'object' && value !== null && !('format' in value);
}
