import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { REPO_ROOT } from './workspace.js';

const BUF = join(REPO_ROOT, 'node_modules', '.bin', 'buf');

/** `npm run proto:breaking` on a copy of proto/ with one contract changed by `edit`. */
function breaking(file: string, edit: (text: string) => string): { status: number | null; output: string } {
  const dir = mkdtempSync(join(tmpdir(), 'strata-proto-'));
  cpSync(join(REPO_ROOT, 'proto'), join(dir, 'proto'), { recursive: true });
  const path = join(dir, 'proto', file);
  const before = readFileSync(path, 'utf8');
  const after = edit(before);
  assert.notEqual(after, before, 'the edit changed the contract');
  writeFileSync(path, after);
  const result = spawnSync(BUF, ['breaking', 'proto', '--against', 'proto/breaking-baseline.json'], { cwd: dir, encoding: 'utf8' });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

describe('contracts cannot break callers by accident (npm run proto:breaking, buf breaking FILE)', () => {
  it('passes on the contracts as they are', () => {
    const result = spawnSync(BUF, ['breaking', 'proto', '--against', 'proto/breaking-baseline.json'], { cwd: REPO_ROOT, encoding: 'utf8' });
    assert.equal(result.status, 0, result.stderr);
  });

  it('fails when a field is removed', () => {
    const result = breaking('strata/orders/v1/orders.proto', (t) => t.replace(/^\s*string customer_email = \d+;\n/m, ''));
    assert.notEqual(result.status, 0);
    assert.match(result.output, /Previously present field "\d+" with name "customer_email" on message "PlaceOrderRequest" was deleted/);
  });

  it('fails when an RPC is renamed', () => {
    const result = breaking('strata/pricing/v1/pricing.proto', (t) => t.replace('rpc Quote(', 'rpc GetQuote('));
    assert.notEqual(result.status, 0);
    assert.match(result.output, /Previously present RPC "Quote" on service "PricingService" was deleted/);
  });

  it('accepts an added field (a compatible change)', () => {
    const result = breaking('strata/catalog/v1/catalog.proto', (t) =>
      t.replace(/message GetProductRequest \{\n/, 'message GetProductRequest {\n  // The locale of the answer.\n  string locale = 99;\n'),
    );
    assert.equal(result.status, 0, result.output);
  });
});
