import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { ContainerTopology, loadScenarios, runOpenLoop, type HttpScenario, type LoadResult } from '@strata/loadtests';
import { loadServices } from '@strata/service-registry';
import { mixedScenario } from './cluster-fixture.js';
import { placeOrdersUnderLoad } from './order-client.js';

// Rolling updates and rollbacks in containers, under load: what `kubectl apply` of a new release does to a Deployment
// (maxSurge 1, maxUnavailable 0), for a leaf, a composite and the edge. Needs Docker and the images of `npm run images`
// (and strata/postgres:dev, loadtests/postgres/build.sh); skipped with a message where they are missing. Run by
// `npm run test:containers` (in .ci/run after the images are built), not by `npm test`, which needs no Docker.

const DOCKER = existsSync('/usr/bin/docker') ? '/usr/bin/docker' : 'docker';
const registry = loadServices();
const dockerAnswers = spawnSync(DOCKER, ['info'], { stdio: 'ignore' }).status === 0;
const imagesPresent =
  dockerAnswers &&
  ['postgres', ...registry.names].every(
    (s) => spawnSync(DOCKER, ['image', 'inspect', `strata/${s}:dev`], { stdio: 'ignore' }).status === 0,
  );
const skip = !dockerAnswers
  ? 'no Docker engine answers here: the rollouts in containers were NOT tested'
  : !imagesPresent
    ? 'the images are not built (npm run images; bash loadtests/postgres/build.sh): the rollouts in containers were NOT tested'
    : false;
if (skip) console.log(`SKIPPED: ${skip}`);

/** An image's immutable name: strata/<service>:<first 12 hex digits of its image id>. */
function pinned(service: string, reference: string): string {
  const id = execFileSync(DOCKER, ['image', 'inspect', '-f', '{{.Id}}', reference], { encoding: 'utf8' }).trim().replace('sha256:', '');
  const image = `strata/${service}:${id.slice(0, 12)}`;
  execFileSync(DOCKER, ['tag', reference, image]);
  return image;
}

/** The images the replicas of a service run. */
const runningImages = (topology: ContainerTopology, service: string) =>
  topology
    .replicas(service)
    .map((c) => execFileSync(DOCKER, ['inspect', '-f', '{{.Config.Image}}', c.getId()], { encoding: 'utf8' }).trim());

/** Release B of a service: release A with one more layer (a label), so a different image with the same behaviour. */
function releaseB(service: string, a: string): string {
  const built = spawnSync(DOCKER, ['build', '-q', '-t', `strata/${service}:rollout-b`, '-'], {
    input: `FROM ${a}\nLABEL org.opencontainers.image.revision="rollout test: release B"\n`,
    encoding: 'utf8',
    env: { ...process.env, DOCKER_BUILDKIT: '0' },
  });
  assert.equal(built.status, 0, built.stderr);
  return pinned(service, `strata/${service}:rollout-b`);
}

const rows: string[] = [];
/** A leaf, a composite and the edge: the first declared service of each layer. */
const ROLLED = (['leaf', 'composite', 'edge'] as const).map((layer) => registry.inLayer(layer)[0]!.name);

describe('rolling updates and rollbacks of released images, in containers, under load', { skip, timeout: 600_000 }, () => {
  let topology: ContainerTopology;
  let scenarios: Awaited<ReturnType<typeof loadScenarios>>;
  let orderId: string;

  before(async () => {
    scenarios = await loadScenarios();
    topology = await ContainerTopology.start({
      tag: 'dev',
      // Two replicas of each service that is rolled, so that one serves while the other is replaced; one of the others.
      replicas: Object.fromEntries(['postgres', ...registry.names].map((s) => [s, (ROLLED as readonly string[]).includes(s) ? 2 : 1])),
      cpus: Object.fromEntries(['postgres', ...registry.names].map((s) => [s, 0.5])),
    });
    const placed = await fetch(`${topology.gatewayUrls()[0]}/api/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': `rollout-seed-${Date.now()}` },
      body: JSON.stringify({ lines: [{ productId: 'p-000042', quantity: 1 }] }),
    });
    assert.equal(placed.status, 201);
    orderId = ((await placed.json()) as { id: string }).id;
  });
  after(async () => {
    await topology?.stop();
    if (rows.length)
      console.log(
        `\n| rollout | load | requests sent | failed | orders acknowledged | orders stored | duplicates |\n|---|---|---|---|---|---|---|\n${rows.join('\n')}\n`,
      );
  });

  /** Every acknowledged key is stored exactly once, under the order id the client was given. */
  async function storedOrders(keys: Map<string, string>): Promise<{ stored: number; duplicates: number; mismatched: number }> {
    const [pg] = topology.replicas('postgres');
    const sql = `SELECT idempotency_key, id FROM orders WHERE idempotency_key LIKE '${[...keys.keys()][0]!.split('-').slice(0, -1).join('-')}-%'`;
    const result = await pg!.exec(['psql', '-U', 'strata', '-d', 'postgres', '-tAF', ',', '-c', sql], { env: { PGPASSWORD: 'strata' } });
    assert.equal(result.exitCode, 0, result.output);
    const rows = result.output
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split(','));
    const counts = new Map<string, number>();
    for (const [key] of rows) counts.set(key!, (counts.get(key!) ?? 0) + 1);
    return {
      stored: [...keys.keys()].filter((k) => counts.has(k)).length,
      duplicates: [...counts.values()].filter((c) => c > 1).length,
      mismatched: rows.filter(([key, id]) => keys.has(key!) && keys.get(key!) !== id).length,
    };
  }

  for (const service of ROLLED) {
    const layer = registry.get(service).layer;
    it(`${service} (${layer}): release A → B → back to A, one replica at a time, under mixed load: nothing fails, every acknowledged order stored once`, async () => {
      const a = pinned(service, `strata/${service}:dev`);
      const b = releaseB(service, a);
      assert.notEqual(a, b);
      const prefix = `rollout-${service}-${Date.now()}`;
      const mixed = mixedScenario(scenarios, orderId) as HttpScenario;
      let turn = 0;
      const urls = () => topology.gatewayUrls();
      const seconds = 40;
      const load: Promise<LoadResult> = runOpenLoop({
        baseUrls: urls,
        scenario: mixed,
        context: { runId: prefix },
        rate: 30,
        durationSec: seconds,
      });
      const orders = placeOrdersUnderLoad(() => urls()[turn++ % urls().length]!, { rate: 4, seconds, keyPrefix: prefix });
      await new Promise((r) => setTimeout(r, 3_000));
      const rolled = performance.now();
      await topology.rollTo(service, b);
      const forward = (performance.now() - rolled) / 1000;
      assert.deepEqual(runningImages(topology, service), [b, b], 'both replicas run release B');
      await topology.rollTo(service, a);
      const back = (performance.now() - rolled) / 1000 - forward;
      const [mixedResult, orderResult] = await Promise.all([load, orders]);
      const stored = await storedOrders(orderResult.acknowledged);
      rows.push(
        `| ${service} (${layer}): A → B (${forward.toFixed(0)} s), then back to A (${back.toFixed(0)} s), 2 replicas | 30 req/s mixed + 4 orders/s | ${mixedResult.sent + orderResult.attempted} | ${mixedResult.failed + mixedResult.dropped} (orders retried: ${orderResult.retries}) | ${orderResult.acknowledged.size} | ${stored.stored} | ${stored.duplicates} |`,
      );
      assert.equal(mixedResult.failed + mixedResult.dropped, 0, `failed: ${JSON.stringify(mixedResult.errors)}`);
      assert.deepEqual(orderResult.anomalies, []);
      assert.equal(orderResult.abandoned, 0);
      assert.equal(orderResult.acknowledged.size, orderResult.attempted, 'every order was acknowledged');
      assert.equal(stored.stored, orderResult.acknowledged.size, 'every acknowledged order is stored');
      assert.equal(stored.duplicates, 0, 'none twice');
      assert.equal(stored.mismatched, 0, 'each under the id its client was given');
      assert.ok(topology.replicas(service).length === 2 && !urls().some((u) => u === undefined), 'two replicas run A again');
    });
  }
});
