import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { DomainError, invalidArgument, unavailable } from './index.js';

describe('domain errors', () => {
  it('name the field at fault in the message of invalid_argument', () => {
    const error = invalidArgument('lines[0].quantity', 'must be from 1 to 1000');
    assert.ok(error instanceof DomainError);
    assert.equal(error.kind, 'invalid_argument');
    assert.equal(error.field, 'lines[0].quantity');
    assert.equal(error.message, 'lines[0].quantity: must be from 1 to 1000');
    assert.equal(unavailable('db down').kind, 'unavailable');
  });

  it('import nothing at all, so domain code that uses them loads no runtime', () => {
    const compiled = readFileSync(new URL('./index.js', import.meta.url), 'utf8');
    assert.doesNotMatch(compiled, /^\s*import\s/m);
    assert.doesNotMatch(compiled, /require\(/);
  });
});
