#!/usr/bin/env node
// For shell scripts: `strata-services names [--grpc] [--data postgres] [--layer edge]` prints the declared services, one per line,
// in start order; `strata-services contract NAME` the gRPC service its readiness asks for; `strata-services json` every declaration;
// `strata-services standalone-ports` writes the kit's standalone ports from the declarations (npm run generate:standalone-ports).
import { parseArgs } from 'node:util';
import { loadServices } from './registry.js';
import { writeStandalonePorts } from './standalone-ports.js';

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { grpc: { type: 'boolean' }, data: { type: 'string' }, layer: { type: 'string' } },
});
const registry = loadServices();
const command = positionals[0] ?? 'names';
if (command === 'names') {
  const services = registry.services.filter(
    (s) =>
      (!values.grpc || s.contract) &&
      (!values.data || s.data.includes(values.data as 'postgres')) &&
      (!values.layer || s.layer === values.layer),
  );
  for (const s of services) console.log(s.name);
} else if (command === 'contract') {
  // The gRPC service a replica's readiness asks for (health "" only says the process is alive).
  console.log(registry.get(positionals[1] ?? '').contract?.services[0] ?? '');
} else if (command === 'json') {
  console.log(JSON.stringify(registry.services, null, 2));
} else if (command === 'standalone-ports') {
  console.log(`wrote ${writeStandalonePorts(registry)}`);
} else {
  console.error(
    'usage: strata-services names [--grpc] [--data postgres] [--layer leaf|composite|edge] | contract NAME | json | standalone-ports',
  );
  process.exitCode = 2;
}
