import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { samplerFromEnv } from './tracing-sdk.js';
import { serviceNameOf, tracingRequested } from './tracing.js';

describe('tracing configuration (the OpenTelemetry variables)', () => {
  it('is on only where an OTLP endpoint is set and the SDK is not disabled', () => {
    assert.equal(tracingRequested({}), false);
    assert.equal(tracingRequested({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }), true);
    assert.equal(tracingRequested({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/v1/traces' }), true);
    assert.equal(tracingRequested({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_SDK_DISABLED: 'true' }), false);
    assert.equal(tracingRequested({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_TRACES_EXPORTER: 'none' }), false);
  });

  it('samples as OTEL_TRACES_SAMPLER says, parent-based by default', () => {
    assert.match(samplerFromEnv({}).toString(), /ParentBased\{root=AlwaysOnSampler/);
    assert.match(
      samplerFromEnv({ OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.1' }).toString(),
      /TraceIdRatioBased\{0\.1\}/,
    );
    assert.match(samplerFromEnv({ OTEL_TRACES_SAMPLER: 'always_off' }).toString(), /AlwaysOffSampler/);
    assert.throws(() => samplerFromEnv({ OTEL_TRACES_SAMPLER: 'sometimes' }), /OTEL_TRACES_SAMPLER=sometimes is not one of/);
  });

  it('names the service as OTEL_SERVICE_NAME says, or after the package of the entry script', () => {
    assert.equal(serviceNameOf({ OTEL_SERVICE_NAME: 'checkout' }, '/anywhere/main.js'), 'checkout');
    // This file's own package: libs/service-kit/dist/tracing.spec.js → @strata/service-kit.
    assert.equal(serviceNameOf({}, fileURLToPath(import.meta.url)), 'service-kit');
  });
});
