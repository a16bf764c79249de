import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { REPO_ROOT } from './local-cluster.js';
import { planLocalReplicas } from './local-plan.js';
import { readOverlayDeployments } from './overlay-reader.js';
import { loadServices } from '@strata/service-registry';

const overlay = join(REPO_ROOT, 'k8s', 'overlays', 'local');
const kubectlPresent = spawnSync('kubectl', ['version', '--client'], { stdio: 'ignore' }).status === 0;

describe('reading k8s/overlays/local', () => {
  it('runs more than one replica of a service in every scalable layer', () => {
    const deployments = readOverlayDeployments(overlay);
    for (const layer of ['leaf', 'composite']) {
      assert.ok(
        deployments.some((d) => d.layer === layer && d.replicas > 1),
        `no ${layer} service with more than one replica`,
      );
    }
  });

  it(
    'reads the same replicas, layers, ports and env that `kubectl kustomize` renders',
    { skip: kubectlPresent ? false : 'kubectl is not installed here' },
    () => {
      const rendered = parseAllDocuments(execFileSync('kubectl', ['kustomize', overlay], { encoding: 'utf8' }))
        .map((d) => d.toJS())
        .filter((o) => o.kind === 'Deployment')
        .map((o) => {
          const container = o.spec.template.spec.containers[0];
          return {
            name: o.metadata.name,
            layer: o.spec.template.metadata.labels['app.kubernetes.io/component'],
            replicas: o.spec.replicas,
            env: Object.fromEntries(
              container.env
                .filter((e: { value?: string }) => e.value !== undefined)
                .map((e: { name: string; value: string }) => [e.name, e.value]),
            ),
            ports: Object.fromEntries(container.ports.map((p: { name: string; containerPort: number }) => [p.name, p.containerPort])),
          };
        })
        .sort((a, b) => a.name.localeCompare(b.name));
      assert.deepEqual(readOverlayDeployments(overlay), rendered);
    },
  );
});

describe('planLocalReplicas', () => {
  it('gives every replica its own port and points callers at all replicas of their callee', () => {
    const plans = planLocalReplicas(readOverlayDeployments(overlay), loadServices(REPO_ROOT), {
      repoRoot: REPO_ROOT,
      basePort: 40_000,
      gatewayPort: 8080,
      databaseUrl: 'postgres://db',
    });
    const catalog = plans.filter((p) => p.service === 'catalog');
    const addresses = plans.filter((p) => p.probe.kind === 'grpc').map((p) => p.address);
    assert.equal(new Set(addresses).size, addresses.length);
    const orders = plans.find((p) => p.service === 'orders')!;
    assert.equal(orders.env.CATALOG_TARGET, `ipv4:${catalog.map((c) => c.address).join(',')}`);
    assert.equal(orders.env.DATABASE_URL, 'postgres://db');
    const gateway = plans.find((p) => p.service === 'gateway')!;
    assert.match(gateway.env.RECOMMENDATIONS_TARGET!, /^ipv4:127\.0\.0\.1:\d+(,127\.0\.0\.1:\d+)+$/);
    assert.deepEqual([...new Set(plans.map((p) => p.layer))], ['leaf', 'composite', 'edge']);
  });
});

describe('starting the local cluster', () => {
  it('fails loudly, naming the replica, when one cannot start (its port is taken)', async () => {
    const { createServer } = await import('node:net');
    const { mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { startLocalCluster } = await import('./local-cluster.js');
    const basePort = 23_000 + Math.floor(Math.random() * 90) * 100;
    const blocker = createServer((socket) => socket.destroy());
    // catalog-1 listens on basePort + 1 (catalog is the first Deployment by name).
    await new Promise<void>((resolve) => blocker.listen(basePort + 1, '127.0.0.1', () => resolve()));
    try {
      await assert.rejects(
        startLocalCluster({
          basePort,
          gatewayPort: 0,
          stateDir: mkdtempSync(join(tmpdir(), 'strata-fail-')),
          ephemeralDatabase: true,
          extraEnv: { LOG_LEVEL: 'silent' },
          supervisor: { readyTimeoutMs: 5_000, initialBackoffMs: 60_000 },
        }),
        /not ready after start: catalog-1/,
      );
    } finally {
      blocker.close();
    }
  });
});
