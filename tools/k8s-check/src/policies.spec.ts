import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { kustomizeMissing } from '@strata/preflight';
import { OVERLAYS, REPO_ROOT, overlayDir, renderKustomization, type K8sObject } from './render.js';
import { crdSchemas, schemaProblems, unvalidated } from './schema.js';
import { checkObjects, minikubeFitProblems, productionProblems, validateOverlay } from './validate.js';

const skip = kustomizeMissing();
if (skip) console.log(`SKIPPED: ${skip}`);

/** A deep copy of an overlay's objects with one change applied. */
function broken(change: (objects: K8sObject[]) => void): K8sObject[] {
  const objects = structuredClone(validateOverlay('minikube').objects);
  change(objects);
  return objects;
}
const find = (objects: K8sObject[], kind: string, name: string) => objects.find((o) => o.kind === kind && o.metadata.name === name)!;

describe('k8s overlays', { skip }, () => {
  for (const overlay of OVERLAYS) {
    it(`${overlay}: renders, validates against the API schemas and meets every policy`, () => {
      const report = validateOverlay(overlay);
      assert.ok(report.objects.length > 20);
      assert.deepEqual(report.problems, []);
    });
  }

  it('fails a Deployment without a readiness probe', () => {
    const objects = broken((o) => delete find(o, 'Deployment', 'catalog').spec.template.spec.containers[0].readinessProbe);
    assert.ok(checkObjects(objects, true).includes('Deployment/catalog container catalog: no readinessProbe'));
  });

  it('fails a gRPC Service with a ClusterIP (calls would be pinned to one pod)', () => {
    const objects = broken((o) => delete find(o, 'Service', 'pricing').spec.clusterIP);
    const problems = checkObjects(objects, true);
    assert.ok(problems.some((p) => p.startsWith('Service/pricing: a gRPC Service must be headless')));
    assert.ok(problems.some((p) => /PRICING_TARGET dials pricing, which is not headless/.test(p)));
  });

  it('fails a container that runs as root', () => {
    const objects = broken((o) => {
      const c = find(o, 'Deployment', 'orders').spec.template.spec.containers[0];
      c.securityContext = { ...c.securityContext, runAsUser: 0 };
    });
    assert.ok(checkObjects(objects, true).includes('Deployment/orders container orders: runs as root (runAsUser 0)'));
  });

  it('fails a rolling update that may take replicas away, and an object the API would reject', () => {
    const objects = broken((o) => {
      find(o, 'Deployment', 'gateway').spec.strategy.rollingUpdate.maxUnavailable = 1;
      find(o, 'Deployment', 'recommendations').spec.template.spec.containers[0].ports[0].containerPort = 'fifty';
    });
    const problems = checkObjects(objects, true);
    assert.ok(problems.includes('Deployment/gateway: rolling update must have maxUnavailable: 0'));
    assert.ok(problems.some((p) => p.startsWith('Deployment/recommendations: ') && /containerPort must be integer/.test(p)));
  });

  it('fails when postgres is open to more than orders, or there is no default deny', () => {
    const objects = broken((o) => {
      find(o, 'NetworkPolicy', 'postgres').spec.ingress[0].from.push({
        podSelector: { matchLabels: { 'app.kubernetes.io/name': 'gateway' } },
      });
      o.splice(o.indexOf(find(o, 'NetworkPolicy', 'default-deny')), 1);
    });
    const problems = checkObjects(objects, true);
    assert.ok(problems.includes('NetworkPolicy/postgres: must accept traffic from orders only'));
    assert.ok(
      problems.includes('NetworkPolicy: no default deny (ingress and egress) selecting every pod of the namespace (podSelector: {})'),
    );
  });

  it('fails a released overlay that runs a mutable image tag (dev, latest)', () => {
    const objects = broken((o) => {
      find(o, 'Deployment', 'catalog').spec.template.spec.containers[0].image = 'strata/catalog:dev';
      find(o, 'Deployment', 'pricing').spec.template.spec.containers[0].image = 'strata/pricing:latest';
    });
    const problems = checkObjects(objects, true, undefined, true);
    assert.ok(
      problems.some((p) => p.startsWith('Deployment/catalog container catalog: image strata/catalog:dev is a mutable tag')),
      problems.join('\n'),
    );
    assert.ok(problems.some((p) => p.startsWith('Deployment/pricing container pricing: image strata/pricing:latest is a mutable tag')));
    assert.deepEqual(
      validateOverlay('minikube').problems.filter((p) => /mutable tag/.test(p)),
      [],
      'as committed, minikube runs content tags',
    );
  });

  it('fails a default deny that selects pods by label (a pod without the label would be left open)', () => {
    const objects = broken((o) => {
      find(o, 'NetworkPolicy', 'default-deny').spec.podSelector = { matchLabels: { 'app.kubernetes.io/part-of': 'strata' } };
    });
    assert.ok(
      checkObjects(objects, true).includes(
        'NetworkPolicy: no default deny (ingress and egress) selecting every pod of the namespace (podSelector: {})',
      ),
    );
  });

  it('holds the observability component to the same pod hygiene, and its API token to read-only', () => {
    const observed = () => structuredClone(validateOverlay('minikube-observability').objects);
    const objects = observed();
    const grafana = find(objects, 'Deployment', 'grafana').spec.template.spec.containers[0];
    grafana.securityContext.readOnlyRootFilesystem = false;
    delete grafana.livenessProbe;
    find(objects, 'Role', 'prometheus-discovery').rules[0].verbs.push('delete');
    const problems = checkObjects(objects, true);
    assert.ok(problems.includes('Deployment/grafana container grafana: readOnlyRootFilesystem must be true'), problems.join('\n'));
    assert.ok(problems.includes('Deployment/grafana container grafana: no livenessProbe'));
    assert.ok(
      problems.includes(
        'Deployment/prometheus: mounts an API token, but its ServiceAccount is not limited to reading (get, list, watch) in the namespace',
      ),
    );
    assert.deepEqual(checkObjects(observed(), true), [], 'as committed, the component passes');
  });

  it('fails manifests that disagree with the service declarations (apps/<name>/service.json) or the contracts (proto/)', () => {
    const objects = broken((o) => {
      const orders = find(o, 'Deployment', 'orders').spec.template.spec.containers[0];
      orders.env = orders.env.filter((e: { name: string }) => e.name !== 'PRICING_TARGET');
      find(o, 'Deployment', 'catalog').spec.template.spec.containers[0].readinessProbe.grpc.service = 'strata.catalog.v1.Catalog';
      find(o, 'Deployment', 'pricing').spec.template.metadata.labels['app.kubernetes.io/component'] = 'composite';
      find(o, 'NetworkPolicy', 'pricing').spec.ingress[0].from.push({
        podSelector: { matchLabels: { 'app.kubernetes.io/name': 'recommendations' } },
      });
      o.push({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'stray' }, spec: {} });
    });
    const problems = checkObjects(objects, true);
    assert.ok(problems.includes('Deployment/orders: dials catalog, declared calls catalog, pricing'), problems.join('\n'));
    assert.ok(
      problems.includes(
        "Deployment/catalog: readiness asks for strata.catalog.v1.Catalog, which catalog's contract (strata.catalog.v1.CatalogService) does not serve",
      ),
      problems.join('\n'),
    );
    assert.ok(problems.includes('Deployment/pricing: component label composite, declared layer leaf'));
    assert.ok(problems.includes('NetworkPolicy/pricing: admits gateway, orders, recommendations, but its callers are orders, gateway'));
    assert.ok(problems.includes('Deployment/stray: no apps/stray/service.json declares this service'));
  });

  it('fails objects outside the overlay namespace, and addresses that name no Service of the namespace they resolve in', () => {
    const objects = broken((o) => {
      delete find(o, 'Deployment', 'pricing').metadata.namespace;
      const gateway = find(o, 'Deployment', 'gateway').spec.template.spec.containers[0];
      gateway.env.find((e: { name: string }) => e.name === 'CATALOG_TARGET').value = 'dns:///catalog.other:50051';
      gateway.env.push({ name: 'OTEL_EXPORTER_OTLP_ENDPOINT', value: 'http://otel-collector:4318' });
    });
    const problems = checkObjects(objects, true);
    assert.ok(
      problems.includes(
        "Deployment/pricing: in namespace (none, so default), but the overlay's namespace is strata (set namespace: in the overlay's kustomization)",
      ),
      problems.join('\n'),
    );
    assert.ok(
      problems.some((p) =>
        p.startsWith(
          'Deployment/gateway container gateway: CATALOG_TARGET names catalog.other, which resolves to Service catalog in namespace other; there is none',
        ),
      ),
    );
    assert.ok(
      problems.some((p) =>
        p.startsWith(
          'Deployment/gateway container gateway: OTEL_EXPORTER_OTLP_ENDPOINT names otel-collector, which resolves to Service otel-collector in namespace strata; there is none',
        ),
      ),
    );
    assert.deepEqual(
      checkObjects(validateOverlay('minikube').objects, true).filter((p) => /namespace/.test(p)),
      [],
      'the minikube overlay as committed: every object in strata, every address a Service of it',
    );
  });

  it('catches the observability component rendered without the overlay namespace (the class of the bug found on minikube)', () => {
    const dir = mkdtempWithOverlay();
    const objects = renderKustomization(join(dir, 'overlay'));
    rmSync(dir, { recursive: true, force: true });
    const problems = checkObjects(objects, true);
    assert.ok(
      problems.some((p) => /^Deployment\/prometheus: in namespace \(none, so default\)/.test(p)),
      problems.join('\n'),
    );
    assert.ok(
      problems.some((p) =>
        /OTEL_EXPORTER_OTLP_ENDPOINT names otel-collector, which resolves to Service otel-collector in namespace strata; there is none/.test(
          p,
        ),
      ),
    );
  });

  it("fails a minikube overlay whose autoscalers' maxima would not fit the node (the base's maxima of 8 each)", () => {
    const objects = structuredClone(validateOverlay('minikube').objects);
    assert.deepEqual(minikubeFitProblems(objects), [], 'as committed it fits');
    for (const hpa of objects.filter((o) => o.kind === 'HorizontalPodAutoscaler')) hpa.spec.maxReplicas = 8;
    // 12,250m with the five services (more with generated ones, as in the service generator's test of a copy).
    assert.match(
      minikubeFitProblems(objects)[0] ?? '',
      /at every autoscaler's maximum the pods request \d+m CPU \(catalog 8×250m.*more than the 4900m/,
    );
  });

  it("fails a ConfigMap mounted with subPath, and a pod reading the API whose egress misses minikube's API server port", () => {
    const objects = structuredClone(validateOverlay('minikube-observability').objects);
    const grafana = find(objects, 'Deployment', 'grafana').spec.template.spec.containers[0];
    grafana.volumeMounts[0] = {
      ...grafana.volumeMounts[0],
      mountPath: '/etc/grafana/provisioning/datasources/datasources.yaml',
      subPath: 'datasources.yaml',
    };
    const egress = find(objects, 'NetworkPolicy', 'prometheus').spec.egress;
    for (const rule of egress) rule.ports = (rule.ports ?? []).filter((p: { port: number }) => p.port !== 8443);
    const problems = checkObjects(objects, true);
    assert.ok(
      problems.some((p) =>
        /Deployment\/grafana container grafana: .* with subPath: an edited ConfigMap or Secret never reaches the pod/.test(p),
      ),
      problems.join('\n'),
    );
    assert.ok(
      problems.includes('Deployment/prometheus: reads the Kubernetes API but its NetworkPolicy does not allow egress to port(s) 8443'),
    );
  });

  it('network policies name the ports they open, and each name is a container port of the pods the rule is about', () => {
    const objects = structuredClone(validateOverlay('minikube').objects);
    const orders = find(objects, 'NetworkPolicy', 'orders').spec;
    assert.equal(orders.ingress[0].ports[0].port, 'grpc', 'named, so the number lives in the container ports only');
    orders.ingress[0].ports[0].port = 'grcp';
    orders.egress.find((e: { to: { podSelector: { matchLabels: Record<string, string> } }[] }) =>
      e.to.some((t) => t.podSelector.matchLabels['app.kubernetes.io/name'] === 'postgres'),
    ).ports[0].port = 'http';
    const problems = checkObjects(objects, true);
    assert.ok(problems.includes('NetworkPolicy/orders: ingress names port grcp, which orders does not have'), problems.join('\n'));
    assert.ok(problems.includes('NetworkPolicy/orders: egress names port http, which postgres does not have'), problems.join('\n'));
  });

  it('production spreads every layer over nodes and runs at least two replicas of each', () => {
    const objects = structuredClone(validateOverlay('production').objects);
    delete find(objects, 'Deployment', 'pricing').spec.template.spec.topologySpreadConstraints;
    find(objects, 'Deployment', 'gateway').spec.replicas = 1;
    assert.deepEqual(productionProblems(objects), [
      'Deployment/gateway: production runs at least 2 replicas of every layer',
      'Deployment/pricing: production spreads replicas over nodes (topologySpreadConstraints on kubernetes.io/hostname)',
    ]);
    assert.deepEqual(productionProblems(validateOverlay('production').objects), []);
  });

  it("checks an operator's custom resource against its CRD when one is given (STRATA_CRD_DIR), and says so when none is", () => {
    const cluster = find(validateOverlay('production-cloudnative-pg').objects, 'Cluster', 'strata-pg');
    assert.deepEqual(schemaProblems(cluster, crdSchemas(undefined)), [], 'no CRD: not a problem…');
    assert.match(unvalidated([cluster], crdSchemas(undefined))[0]!, /Cluster\/strata-pg \(postgresql\.cnpg\.io\/v1\): not validated/);
    // A CRD written for this test (the operator's own cannot be vendored here): instances must be an integer ≥ 1.
    const dir = mkdtempSync(join(tmpdir(), 'strata-crd-'));
    writeFileSync(
      join(dir, 'cluster-crd.yaml'),
      [
        'apiVersion: apiextensions.k8s.io/v1',
        'kind: CustomResourceDefinition',
        'metadata: { name: clusters.postgresql.cnpg.io }',
        'spec:',
        '  group: postgresql.cnpg.io',
        '  names: { kind: Cluster, plural: clusters }',
        '  scope: Namespaced',
        '  versions:',
        '    - name: v1',
        '      served: true',
        '      storage: true',
        '      schema:',
        '        openAPIV3Schema:',
        '          type: object',
        '          properties:',
        '            spec: { type: object, required: [instances], properties: { instances: { type: integer, minimum: 1 } } }',
      ].join('\n'),
    );
    const crds = crdSchemas(dir);
    assert.deepEqual(schemaProblems(cluster, crds), [], 'the committed Cluster passes');
    assert.deepEqual(unvalidated([cluster], crds), []);
    const broken = structuredClone(cluster);
    broken.spec.instances = 'three';
    assert.deepEqual(schemaProblems(broken, crds), ["Cluster/strata-pg: /spec/instances must be integer (the CRD's schema)"]);
  });
});

/** minikube plus the observability component, without `namespace:` (the overlay as it was before the fix). */
function mkdtempWithOverlay(): string {
  // Inside the repository (.strata, ignored by git): kustomize resolves the overlay's relative paths from there.
  mkdirSync(join(REPO_ROOT, '.strata'), { recursive: true });
  const dir = mkdtempSync(join(REPO_ROOT, '.strata', 'k8s-check-'));
  mkdirSync(join(dir, 'overlay'));
  writeFileSync(
    join(dir, 'overlay', 'kustomization.yaml'),
    `apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - ${relative(join(dir, 'overlay'), overlayDir('minikube'))}\ncomponents:\n  - ${relative(join(dir, 'overlay'), join(REPO_ROOT, 'k8s', 'components', 'observability'))}\n`,
  );
  return dir;
}
