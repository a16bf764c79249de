/**
 * Injection tokens of what the kit gives every service's Nest module (`@Inject(KIT_LOGGER) logger: Logger`).
 * Provided by the global module the kit adds around the service's own (`kit-module.ts`).
 */
export const KIT_SERVICE_NAME = Symbol('strata.service-name');
export const KIT_LOGGER = Symbol('strata.logger');
export const KIT_METRICS = Symbol('strata.metrics');
/** The validated env the service was started with. */
export const KIT_CONFIG = Symbol('strata.config');
/** One promise client per declared upstream (`UpstreamClients<typeof UPSTREAMS>`). */
export const KIT_UPSTREAMS = Symbol('strata.upstreams');
