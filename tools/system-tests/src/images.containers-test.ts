import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { REPO_ROOT } from '@strata/local-cluster';

/**
 * `npm run images` with a Docker daemon but a base image that is neither here nor pullable (the default,
 * node:24-bookworm-slim, on a machine without a registry): one line naming the base and the way to a local one,
 * before anything compiles. Runs where Docker runs (test:containers), because the daemon must answer for the case to
 * be this one rather than "no Docker daemon".
 */
describe('npm run images, where the base image cannot be had', () => {
  it('names the base image, STRATA_BASE_IMAGE and npm run images:ci-base, in one line, exit 1', () => {
    const base = `strata/no-such-base:${process.pid}`;
    const started = performance.now();
    const out = spawnSync(process.execPath, [join(REPO_ROOT, 'tools/release/dist/images-main.js'), '--services', 'catalog'], {
      cwd: REPO_ROOT,
      env: { ...process.env, STRATA_BASE_IMAGE: base },
      encoding: 'utf8',
      timeout: 120_000,
    });
    const where = `stdout:\n${out.stdout}\nstderr:\n${out.stderr}`;
    assert.equal(out.status, 1, where);
    assert.equal(out.stderr.trimEnd().split('\n').length, 1, `stderr is not one line\n${where}`);
    assert.match(
      out.stderr.trimEnd(),
      new RegExp(
        `^error: the base image ${base} is not here and cannot be pulled \\(.+\\): build a local one with \`npm run images:ci-base\` .*STRATA_BASE_IMAGE=strata/node-base:24 npm run images$`,
      ),
      where,
    );
    assert.doesNotMatch(out.stdout, /compiling/, `it compiled before it checked the base\n${where}`);
    assert.ok(performance.now() - started < 60_000);
  });
});
