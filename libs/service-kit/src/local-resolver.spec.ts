import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';

const dist = dirname(fileURLToPath(import.meta.url));

/** In a new process: import `modules` (of this dist), then ask strata-local:///catalog's health; prints what came back. */
async function askInAProcess(modules: string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
  const script = `
    for (const m of ${JSON.stringify(modules.map((m) => join(dist, m)))}) await import(m);
    const { checkHealth } = await import(${JSON.stringify(join(dist, 'grpc-health.js'))});
    console.log(await checkHealth('strata-local:///catalog', '', 2000).catch((e) => 'error: ' + e.details));
  `;
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], {
    env: { PATH: process.env.PATH, ...env },
  });
  return stdout.trim();
}

describe("the local cluster's strata-local:/// resolver", () => {
  it("is registered by none of the kit's entry points, so no app or image carries it", async () => {
    const answer = await askInAProcess(['index.js', 'http-edge.js', 'tracing.js']);
    assert.match(answer, /^error: /);
    assert.doesNotMatch(answer, /no endpoints are published/, 'the resolver answered: an entry point registered it');
  });

  it('resolves to the published replicas once loaded (as the local cluster loads it, with --import)', async () => {
    assert.equal(
      await askInAProcess(['local-resolver.js']),
      'error: no endpoints are published for catalog (no STRATA_ENDPOINTS_FILE set)',
    );
    const server = new grpc.Server();
    new HealthImplementation({ '': 'SERVING' }).addToServer(server);
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
    );
    try {
      const file = join(mkdtempSync(join(tmpdir(), 'strata-endpoints-')), 'endpoints.json');
      writeFileSync(file, JSON.stringify({ version: 1, services: { catalog: [`127.0.0.1:${port}`] } }));
      assert.equal(await askInAProcess(['local-resolver.js'], { STRATA_ENDPOINTS_FILE: file }), 'SERVING');
    } finally {
      server.forceShutdown();
    }
  });
});
