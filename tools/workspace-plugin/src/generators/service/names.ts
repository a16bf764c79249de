import { SERVICE_NAME } from '@strata/service-registry';

/** Words that may not name a service: the data layer, the shared contract folder, and the project's own name. */
const RESERVED = new Set(['postgres', 'common', 'strata', 'contracts', 'service-kit', 'dev-kit', 'domain-errors', 'service-registry']);

/** The spellings of one service name: kebab (folders, DNS), Pascal (types), camel, CONSTANT, and the proto package. */
export interface ServiceNames {
  name: string;
  pascal: string;
  camel: string;
  constant: string;
  protoPkg: string;
  targetVariable: string;
}

export function serviceNames(name: string): ServiceNames {
  const words = name.split('-');
  const pascal = words.map((w) => w[0]!.toUpperCase() + w.slice(1)).join('');
  return {
    name,
    pascal,
    camel: pascal[0]!.toLowerCase() + pascal.slice(1),
    constant: words.join('_').toUpperCase(),
    protoPkg: words.join('_'),
    targetVariable: `${words.join('_').toUpperCase()}_TARGET`,
  };
}

/** Why `name` cannot be a new service's name, or undefined when it can. */
export function invalidName(name: string): string | undefined {
  if (!SERVICE_NAME.test(name) || name.length > 40) {
    return `'${name}' is not a valid service name: use lower-case letters and digits, words joined by '-', starting with a letter, at most 40 characters (it becomes a folder, a Deployment and a DNS name), e.g. 'inventory' or 'order-history'`;
  }
  if (RESERVED.has(name)) return `'${name}' is reserved in Strata; choose another name`;
  return undefined;
}
