import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { serviceDeclaration, type ServiceDeclaration } from './declaration.js';
import { REPO_ROOT, ServiceRegistry, loadServices, registryProblems } from './registry.js';
import { shipsAtRunTime } from './runtime.js';
import { STANDALONE_PORTS_FILE, standalonePortsModule } from './standalone-ports.js';

const registry = loadServices();
const with_ = (name: string, change: Partial<ServiceDeclaration>): ServiceDeclaration => ({ ...registry.get(name), ...change });

describe('service declarations (apps/<name>/service.json)', () => {
  it('declare every app that Nx knows, and nothing else', () => {
    const nx = JSON.parse(
      execFileSync('node_modules/.bin/nx', ['show', 'projects', '--projects', 'tag:type:app', '--json'], {
        cwd: REPO_ROOT,
        encoding: 'utf8',
        env: { ...process.env, NX_DAEMON: 'false' },
      }),
    ) as string[];
    assert.deepEqual(nx.map((p) => p.replace('@strata/', '')).sort(), [...registry.names].sort());
  });

  it('list services in start order: leaves, then composites, then the edge', () => {
    const layers = registry.services.map((s) => s.layer);
    assert.deepEqual(
      layers,
      [...layers].sort((a, b) => ['leaf', 'composite', 'edge'].indexOf(a) - ['leaf', 'composite', 'edge'].indexOf(b)),
    );
    assert.ok(registry.names.length >= 5);
  });

  it('refuse calls against the layering and callees nobody declares', () => {
    const services = registry.services.map((s) =>
      s.name === 'catalog'
        ? with_('catalog', { calls: ['pricing'] })
        : s.name === 'orders'
          ? with_('orders', { calls: ['recommendations', 'ghost'] })
          : s,
    );
    const problems = registryProblems(services);
    assert.ok(problems.includes('catalog (leaf) may not call pricing (leaf): a leaf calls nothing'), problems.join('\n'));
    assert.ok(problems.includes('orders (composite) may not call recommendations (composite): a composite calls only leaf services'));
    assert.ok(problems.some((p) => p.startsWith("orders: calls 'ghost'")));
    const nothingCallsTheEdge = registryProblems(
      registry.services.map((s) => (s.name === 'orders' ? with_('orders', { calls: ['gateway'] }) : s)),
    );
    assert.ok(nothingCallsTheEdge.includes('orders (composite) may not call gateway (edge): a composite calls only leaf services'));
  });

  it('refuse a malformed declaration with the field named', () => {
    const bad = serviceDeclaration.safeParse({ ...registry.get('pricing'), name: 'Pricing_V2', contract: undefined, extra: 1 });
    assert.equal(bad.success, false);
    const paths = bad.error!.issues.map((i) => i.path.join('.') || i.message);
    assert.ok(paths.includes('name'), paths.join(', '));
    assert.ok(bad.error!.issues.some((i) => /Unrecognized key/.test(i.message)));
  });
});

describe('shipsAtRunTime: what of a build a service runs (images and local revisions)', () => {
  it('keeps JavaScript and assets, leaves out tests, type declarations, source maps and build info', () => {
    const ships = [
      'dist/main.js',
      'dist/index.mjs',
      'dist/strata/catalog/v1/catalog.proto',
      'dist/strata.binpb',
      'dist/data/products.json',
    ];
    const not = [
      'dist/main.spec.js',
      'dist/main.d.ts',
      'dist/main.d.ts.map',
      'dist/main.js.map',
      'tsconfig.tsbuildinfo',
      'dist/x.spec.mjs',
    ];
    assert.deepEqual(ships.filter(shipsAtRunTime), ships);
    assert.deepEqual(not.filter(shipsAtRunTime), []);
  });
});

describe('the standalone ports: one home (service.json), carried into the kit by generation', () => {
  it('libs/service-kit/src/standalone-ports.ts is what the declarations say (else: npm run generate:standalone-ports)', () => {
    const committed = readFileSync(join(REPO_ROOT, STANDALONE_PORTS_FILE), 'utf8');
    assert.equal(committed, standalonePortsModule(registry), `${STANDALONE_PORTS_FILE} is stale: run npm run generate:standalone-ports`);
  });

  it('a port edited in a declaration changes the module (the test above can fail)', () => {
    const edited = new ServiceRegistry(
      registry.services.map((s) => (s.name === 'catalog' ? with_('catalog', { standalonePorts: { grpc: 50099, metrics: 9461 } }) : s)),
      REPO_ROOT,
    );
    assert.match(standalonePortsModule(edited), /catalog: \{ grpc: 50099, metrics: 9461 \}/);
    assert.notEqual(standalonePortsModule(edited), standalonePortsModule(registry));
  });
});
