import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ESLint } from 'eslint';
import { REPO_ROOT } from './workspace.js';

const eslint = new ESLint({ cwd: REPO_ROOT });

/**
 * Lints `code` as if it were the file `path` of the repository; returns the messages of the restriction rules (the
 * import restrictions unless `rule` names others).
 */
async function violations(path: string, code: string, rule = /no-restricted-imports/): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: `${REPO_ROOT}/${path}` });
  return result!.messages.filter((m) => rule.test(m.ruleId ?? '')).map((m) => m.message);
}
const RESTRICTED_SYNTAX = /^no-restricted-syntax$/;

describe('the architecture as lint rules (eslint.config.js, from the service declarations)', () => {
  it('domain code may not import Nest, gRPC or the runtime kit', async () => {
    const found = await violations(
      'apps/catalog/src/domain/probe.ts',
      "import { Controller } from '@nestjs/common';\nimport { loadConfig } from '@strata/service-kit';\nexport const x = [Controller, loadConfig];\n",
    );
    assert.equal(found.length, 2, found.join('\n'));
    assert.ok(found.every((m) => /Domain code \(src\/domain\) imports no Nest, gRPC, runtime kit/.test(m)));
  });

  it("domain code may use the contracts' types, not their values (which load Nest's decorators)", async () => {
    assert.deepEqual(
      await violations(
        'apps/catalog/src/domain/probe.ts',
        "import type { Product } from '@strata/contracts/catalog/v1';\nexport type P = Product;\n",
      ),
      [],
    );
    const values = await violations(
      'apps/catalog/src/domain/probe.ts',
      "import { CatalogServiceControllerMethods } from '@strata/contracts/catalog/v1';\nexport const d = CatalogServiceControllerMethods;\n",
    );
    assert.equal(values.length, 1);
    assert.match(values[0]!, /contracts' types only/);
  });

  it('a leaf may not import the contract of another service; a composite only those it declares it calls', async () => {
    const leaf = await violations(
      'apps/catalog/src/probe.ts',
      "import type { QuoteRequest } from '@strata/contracts/pricing/v1';\nexport type Q = QuoteRequest;\n",
    );
    assert.equal(leaf.length, 1);
    assert.match(leaf[0]!, /catalog \(leaf\) does not call pricing \(leaf\)/);
    assert.deepEqual(
      await violations(
        'apps/orders/src/probe.ts',
        "import type { QuoteRequest } from '@strata/contracts/pricing/v1';\nexport type Q = QuoteRequest;\n",
      ),
      [],
    );
    const composite = await violations(
      'apps/recommendations/src/probe.ts',
      "import type { GetOrderRequest } from '@strata/contracts/orders/v1';\nexport type O = GetOrderRequest;\n",
    );
    assert.match(composite[0] ?? '', /recommendations \(composite\) does not call orders \(composite\)/);
  });

  it("a gRPC controller's handler takes its request with @Payload()", async () => {
    const controller = (parameter: string) =>
      [
        "import { Controller } from '@nestjs/common';",
        "import { Payload } from '@nestjs/microservices';",
        "import { PricingServiceControllerMethods, type QuoteRequest } from '@strata/contracts/pricing/v1';",
        '@Controller()',
        '@PricingServiceControllerMethods()',
        'export class PricingController {',
        `  quote(${parameter}) {`,
        '    return { payload: [Payload], request };',
        '  }',
        '}',
        '',
      ].join('\n');
    const bare = await violations('apps/pricing/src/probe.ts', controller('request: QuoteRequest'), RESTRICTED_SYNTAX);
    assert.equal(bare.length, 1, bare.join('\n'));
    assert.match(bare[0]!, /takes its request with @Payload\(\)/);
    assert.deepEqual(await violations('apps/pricing/src/probe.ts', controller('@Payload() request: QuoteRequest'), RESTRICTED_SYNTAX), []);
  });

  it('production code may not use the dev kit; specs may', async () => {
    const code = "import { freePort } from '@strata/dev-kit';\nexport const f = freePort;\n";
    assert.match((await violations('apps/pricing/src/probe.ts', code))[0] ?? '', /dev kit is for specs and tools/);
    assert.deepEqual(await violations('apps/pricing/src/probe.spec.ts', code), []);
  });
});
