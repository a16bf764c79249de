import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { MAX_LOCAL_REPLICAS, REPO_ROOT } from './local-cluster.js';
import { planServices } from './local-plan.js';
import { readDesiredReplicas } from './overlay-reader.js';
import { kustomizeMissing } from '@strata/preflight';
import { loadServices, readOverlayAutoscalers, readOverlayDeployments } from '@strata/service-registry';
import { readAutoscaler } from '@strata/autoscaler';
import { reservePortRegion } from '@strata/dev-kit';

const overlay = join(REPO_ROOT, 'k8s', 'overlays', 'local');
const noKustomize = kustomizeMissing();
if (noKustomize) console.log(`SKIPPED: ${noKustomize}`);

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

  // The local overlay, and the minikube-observability one, whose components patch every Deployment by label.
  for (const dir of [overlay, join(REPO_ROOT, 'k8s', 'overlays', 'minikube-observability')])
    it(
      `reads the same replicas, layers, ports, env and readiness that \`kubectl kustomize\` renders (${dir.split('/').pop()})`,
      { skip: noKustomize },
      () => {
        const rendered = parseAllDocuments(execFileSync('kubectl', ['kustomize', dir], { encoding: 'utf8' }))
          .map((d) => d.toJS())
          .filter((o) => o.kind === 'Deployment' && o.metadata.labels?.['app.kubernetes.io/part-of'] === 'strata')
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
              readinessService: container.readinessProbe.grpc?.service,
              resources: container.resources,
            };
          })
          .sort((a, b) => a.name.localeCompare(b.name));
        assert.deepEqual(
          readOverlayDeployments(dir).filter((d) => rendered.some((r) => r.name === d.name)),
          rendered,
        );
      },
    );
});

describe('reading the autoscalers of an overlay', () => {
  for (const dir of [overlay, join(REPO_ROOT, 'k8s', 'overlays', 'minikube')])
    it(
      `reads the same HorizontalPodAutoscaler specs that \`kubectl kustomize\` renders, minReplicas following replicas: (${dir.split('/').pop()})`,
      { skip: noKustomize },
      () => {
        const rendered = parseAllDocuments(execFileSync('kubectl', ['kustomize', dir], { encoding: 'utf8' }))
          .map((d) => d.toJS())
          .filter((o) => o.kind === 'HorizontalPodAutoscaler')
          .map((o) => ({ name: o.metadata.name, spec: o.spec }))
          .sort((a, b) => a.name.localeCompare(b.name));
        const read = readOverlayAutoscalers(dir).map((o) => ({ name: (o.metadata as { name: string }).name, spec: o.spec }));
        assert.ok(rendered.length >= 5, `only ${rendered.length} HPAs rendered`);
        assert.deepEqual(read, rendered);
        const declared = readDesiredReplicas(dir, MAX_LOCAL_REPLICAS);
        for (const { name, spec } of read) assert.equal((spec as { minReplicas: number }).minReplicas, declared.get(name), name);
        assert.ok(
          read.every(({ spec }) =>
            readAutoscaler({ apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', metadata: { name: 'x' }, spec }),
          ),
        );
      },
    );
});

describe('planServices', () => {
  it('gives every replica its own ports and points callers at their callees through the local resolver', () => {
    const templates = planServices(readOverlayDeployments(overlay), loadServices(REPO_ROOT), {
      repoRoot: REPO_ROOT,
      basePort: 40_000,
      gatewayPort: 8080,
      databaseUrl: 'postgres://db',
      endpointsFile: '/tmp/endpoints.json',
    });
    const plans = templates.flatMap((t) => [1, 2, 3].map((slot) => t.replica(slot)));
    const ports = plans.flatMap((p) => [p.address, p.metricsUrl]).filter((a) => !a.includes(':8080'));
    assert.equal(new Set(ports).size, ports.length, 'no two replicas share a port');
    const orders = plans.find((p) => p.service === 'orders')!;
    assert.equal(orders.env.CATALOG_TARGET, 'strata-local:///catalog');
    assert.equal(orders.env.STRATA_ENDPOINTS_FILE, '/tmp/endpoints.json');
    assert.equal(orders.env.DATABASE_URL, 'postgres://db');
    const gateway = plans.filter((p) => p.service === 'gateway');
    assert.equal(gateway[0]!.env.RECOMMENDATIONS_TARGET, 'strata-local:///recommendations');
    assert.ok(
      gateway.every((g) => g.env.GATEWAY_PORT === '8080' && g.env.GATEWAY_REUSE_PORT === 'true'),
      'edge replicas share the API port',
    );
    assert.notEqual(gateway[0]!.probe, gateway[1]!.probe, 'each edge replica is probed on its own ops port');
    assert.deepEqual([...new Set(templates.map((t) => t.layer))], ['leaf', 'composite', 'edge']);
  });
});

describe('readDesiredReplicas: an edit of the overlay is taken whole or refused', () => {
  const edited = (replace: (text: string) => string) => {
    const copy = mkdtempSync(join(tmpdir(), 'strata-overlay-'));
    cpSync(join(REPO_ROOT, 'k8s'), join(copy, 'k8s'), { recursive: true });
    const file = join(copy, 'k8s', 'overlays', 'local', 'kustomization.yaml');
    writeFileSync(file, replace(readFileSync(file, 'utf8')));
    return join(copy, 'k8s', 'overlays', 'local');
  };
  const catalog = /(- name: catalog\n\s+count: )\d+/;

  it('reads the replicas of every Deployment', () => {
    const desired = readDesiredReplicas(
      edited((t) => t.replace(catalog, '$15')),
      16,
    );
    assert.equal(desired.get('catalog'), 5);
    assert.equal(desired.size, readOverlayDeployments(overlay).length);
  });

  it('refuses YAML that does not parse, an unknown service, a negative, fractional or too large count', () => {
    assert.throws(
      () =>
        readDesiredReplicas(
          edited((t) => t.replace(/^replicas:/m, 'replicas: [')),
          16,
        ),
      /not valid YAML/,
    );
    assert.throws(
      () =>
        readDesiredReplicas(
          edited((t) => t.replace('- name: catalog', '- name: catalogue')),
          16,
        ),
      /replicas names 'catalogue', which is no Deployment of the base/,
    );
    assert.throws(
      () =>
        readDesiredReplicas(
          edited((t) => t.replace(catalog, '$1-1')),
          16,
        ),
      /replicas of catalog: count must be a whole number ≥ 0, got -1/,
    );
    assert.throws(
      () =>
        readDesiredReplicas(
          edited((t) => t.replace(catalog, '$12.5')),
          16,
        ),
      /got 2\.5/,
    );
    assert.throws(
      () =>
        readDesiredReplicas(
          edited((t) => t.replace(catalog, '$1400')),
          16,
        ),
      /400 is more than this machine runs locally \(at most 16/,
    );
  });
});

describe('starting the local cluster', () => {
  it('fails loudly, naming the replica, when one cannot start (its port is taken)', async () => {
    const { createServer } = await import('node:net');
    const { mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { startLocalCluster } = await import('./local-cluster.js');
    const region = await reservePortRegion();
    const basePort = region.base;
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
          // The default ready timeout (30 s): catalog-1 fails at once (it exits), and the other replicas get the time
          // they need on a busy machine — with 5 s, a slow catalog-0 was named first and the message did not match.
          supervisor: { initialBackoffMs: 60_000 },
        }),
        /^Error: not ready after start: catalog-1 \(.*exited with/,
      );
    } finally {
      blocker.close();
      region.release();
    }
  });
});
