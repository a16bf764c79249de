import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadServices } from '@strata/service-registry';
import { renderCodeowners, roomOf } from './codeowners.js';
import { REPO_ROOT } from './workspace.js';

describe('CODEOWNERS', () => {
  const registry = loadServices(REPO_ROOT);

  it('is what the declarations say (regenerate it with the service generator, or from renderCodeowners)', () => {
    assert.equal(readFileSync(join(REPO_ROOT, 'CODEOWNERS'), 'utf8'), renderCodeowners(registry.services));
  });

  it("gives each service's whole room to its owners: app, contract, k8s base, network policy, scenarios, k6 scripts", () => {
    const pricing = roomOf(registry.get('pricing'));
    assert.deepEqual(pricing, [
      '/apps/pricing/',
      '/proto/strata/pricing/',
      '/k8s/base/pricing/',
      '/k8s/components/network-policies/pricing.yaml',
      '/loadtests/scenarios/pricing.js',
      '/loadtests/k6/quote.js',
      '/loadtests/k6/grpc-pricing.js',
    ]);
    const text = renderCodeowners(registry.services);
    // The room comes after the shared entries, so it wins for those files (the last matching pattern decides).
    assert.ok(text.indexOf('/loadtests/k6/grpc-pricing.js @strata/pricing-team') > text.indexOf('/loadtests/ @strata/platform-team'));
  });
});
