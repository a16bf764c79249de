import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { PackageDefinition } from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import descriptor from 'protobufjs/ext/descriptor/index.js';

/**
 * Server reflection from the contracts' descriptor set, as buf builds it (`@strata/contracts/descriptor-set`).
 *
 * Why not `new ReflectionService(packageDefinition)` from proto-loader, as @grpc/reflection's README shows: the file
 * descriptors proto-loader regenerates carry relative type names ("common.v1.Money") and no `dependency` list, so a
 * client that resolves types strictly (k6, grpcurl) fails on every message that uses a type from another file —
 * here, every service (Money is in strata/common/v1). grpc-node #3018, #2595. buf's descriptors are complete.
 */
export function strataReflection(): ReflectionService {
  const bytes = readFileSync(fileURLToPath(import.meta.resolve('@strata/contracts/descriptor-set')));
  const set = descriptor.FileDescriptorSet.decode(bytes) as unknown as { file: object[] };
  const fileDescriptorProtos = set.file.map((file) => descriptor.FileDescriptorProto.encode(file).finish());
  // ReflectionService reads only `fileDescriptorProtos` from each entry of the package definition.
  return new ReflectionService({ strata: { fileDescriptorProtos } } as unknown as PackageDefinition);
}
