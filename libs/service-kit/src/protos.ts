import { readdirSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as protoLoader from '@grpc/proto-loader';

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

/** The directory that holds `strata/<service>/v<n>/*.proto`, as shipped in `@strata/contracts`. */
export function protoRoot(): string {
  const anyProto = fileURLToPath(import.meta.resolve('@strata/contracts/proto/strata/common/v1/money.proto'));
  return dirname(dirname(dirname(dirname(anyProto))));
}

/** Every contract file under the proto root (relative paths), found on disk: a new service's contract needs no list. */
export function strataProtoFiles(root = protoRoot()): string[] {
  const found: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isDirectory()) walk(join(dir, entry.name));
      else if (entry.name.endsWith('.proto')) found.push(relative(root, join(dir, entry.name)));
    }
  };
  walk(join(root, 'strata'));
  return found.sort();
}

let cached: protoLoader.PackageDefinition | undefined;

/** Loads the contracts once per process (shared by the server and every client). */
export function loadStrataProtos(): protoLoader.PackageDefinition {
  if (!cached) {
    const root = protoRoot();
    cached = protoLoader.loadSync(strataProtoFiles(root), { ...PROTO_LOADER_OPTIONS, includeDirs: [root] });
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
