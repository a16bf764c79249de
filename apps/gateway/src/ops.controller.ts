import { Controller, Get, Header, HttpException, Inject } from '@nestjs/common';
import { ServiceMetrics } from '@strata/service-kit';
import { Readiness } from './upstreams.js';

/** Liveness, readiness and metrics, for Kubernetes probes and Prometheus. */
@Controller()
export class OpsController {
  constructor(
    @Inject(Readiness) private readonly readiness: Readiness,
    @Inject(ServiceMetrics) private readonly metrics: ServiceMetrics,
  ) {}

  @Get('healthz')
  healthz() {
    return { status: 'ok' };
  }

  @Get('readyz')
  readyz() {
    if (!this.readiness.ready) throw new HttpException({ status: 'shutting down or starting' }, 503);
    return { status: 'ready' };
  }

  @Get('metrics')
  @Header('content-type', 'text/plain; version=0.0.4; charset=utf-8')
  metricsText(): Promise<string> {
    return this.metrics.registry.metrics();
  }
}
