import { Global, Module, type DynamicModule, type OnApplicationShutdown, type Provider, type Type } from '@nestjs/common';
import { KIT_CONFIG, KIT_LOGGER, KIT_METRICS, KIT_SERVICE_NAME, KIT_UPSTREAMS } from './kit-tokens.js';
import type { Logger } from './logger.js';
import type { ServiceMetrics } from './metrics.js';

/** What the kit made before Nest builds the service's module, given to it as providers. */
export interface KitValues {
  readonly serviceName: string;
  readonly logger: Logger;
  readonly metrics: ServiceMetrics;
  readonly config: Record<string, unknown>;
  readonly upstreams: object;
}

/**
 * Closes what the kit opened (upstream channels, the metrics port) and what the service asked to close after the
 * drain, in order, in Nest's `onApplicationShutdown`: Nest calls it after the transport has closed, so in-flight
 * calls have finished and could still use the channels until then.
 */
class KitShutdown implements OnApplicationShutdown {
  constructor(
    private readonly logger: Logger,
    private readonly closers: readonly (() => unknown)[],
  ) {}

  async onApplicationShutdown(): Promise<void> {
    for (const close of this.closers) {
      try {
        await close();
      } catch (error) {
        this.logger.warn({ err: error }, 'a resource failed to close after the drain');
      }
    }
  }
}

@Global()
@Module({})
class ServiceKitModule {}

/**
 * The root module of a Strata service: a global module with the kit's values as providers (`@Inject(KIT_LOGGER)`,
 * `KIT_METRICS`, `KIT_CONFIG`, `KIT_UPSTREAMS`), the transport's enhancers (`APP_INTERCEPTOR`, `APP_FILTER`), and
 * the service's own module.
 */
export function serviceRootModule(
  kit: KitValues,
  service: Type | DynamicModule,
  enhancers: readonly Provider[],
  closers: readonly (() => unknown)[],
): DynamicModule {
  const values: Provider[] = [
    { provide: KIT_SERVICE_NAME, useValue: kit.serviceName },
    { provide: KIT_LOGGER, useValue: kit.logger },
    { provide: KIT_METRICS, useValue: kit.metrics },
    { provide: KIT_CONFIG, useValue: kit.config },
    { provide: KIT_UPSTREAMS, useValue: kit.upstreams },
  ];
  return {
    module: ServiceKitModule,
    global: true,
    imports: [service],
    providers: [...values, ...enhancers, { provide: KitShutdown, useValue: new KitShutdown(kit.logger, closers) }],
    exports: [KIT_SERVICE_NAME, KIT_LOGGER, KIT_METRICS, KIT_CONFIG, KIT_UPSTREAMS],
  };
}
