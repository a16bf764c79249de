import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatFiles, generateFiles, type Tree } from '@nx/devkit';
import {
  DECLARATION_FILE,
  MAY_CALL,
  START_ORDER,
  STANDALONE_PORTS_FILE,
  ServiceRegistry,
  serviceDeclaration,
  standalonePortsModule,
  type ServiceDeclaration,
} from '@strata/service-registry';
import { parseDocument, type Document, type YAMLMap, type YAMLSeq } from 'yaml';
import { renderCodeowners } from '../../codeowners.js';
import { invalidName, serviceNames } from './names.js';

export interface ServiceGeneratorOptions {
  name: string;
  layer: 'leaf' | 'composite';
  /** Comma-separated callees (composite only). */
  calls?: string;
  owner?: string;
  skipInstall?: boolean;
}

/** Replicas a new service gets in each overlay. */
const NEW_REPLICAS: Record<string, number> = { local: 2, minikube: 1, production: 2 };
const TEMPLATES = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'src', 'generators', 'service', 'files');

/** Every declared service, read from the tree (so several generations in one run see each other). */
function declarations(tree: Tree): ServiceDeclaration[] {
  return tree
    .children('apps')
    .filter((app) => tree.exists(`apps/${app}/${DECLARATION_FILE}`))
    .map((app) => serviceDeclaration.parse(JSON.parse(tree.read(`apps/${app}/${DECLARATION_FILE}`, 'utf-8')!)));
}

function yaml(tree: Tree, path: string): Document {
  if (!tree.exists(path)) throw new Error(`${path} is missing; the generator edits it`);
  return parseDocument(tree.read(path, 'utf-8')!);
}

/**
 * `npm run new-service -- --name <name> --layer leaf|composite [--calls a,b]`: the contract, the app (health,
 * reflection, metrics, graceful stop, a sample RPC with domain logic and its tests), the k8s base, the overlays'
 * replicas, the network policy paths (its own, and its callees' admitting it), its load scenario, k6 script and
 * capacity plan, its README and declaration, and CODEOWNERS. Refuses a name that exists or is not valid.
 */
export default async function serviceGenerator(tree: Tree, options: ServiceGeneratorOptions): Promise<() => void> {
  const problem = invalidName(options.name);
  if (problem) throw new Error(problem);
  const n = serviceNames(options.name);
  const existing = declarations(tree);
  for (const path of [
    `apps/${n.name}`,
    `proto/strata/${n.protoPkg}`,
    `k8s/base/${n.name}`,
    `k8s/components/network-policies/${n.name}.yaml`,
  ]) {
    if (tree.exists(path)) throw new Error(`a service named '${n.name}' exists already (${path}); choose another name`);
  }
  if (options.layer !== 'leaf' && options.layer !== 'composite')
    throw new Error(`--layer must be leaf or composite, not '${options.layer}' (there is one edge, the gateway)`);
  const calls = (options.calls ?? '')
    .split(',')
    .map((c) => c.trim())
    .filter(Boolean);
  if (options.layer === 'leaf' && calls.length > 0) throw new Error(`a leaf calls nothing: drop --calls, or make '${n.name}' a composite`);
  const callees = calls.map((c) => {
    const callee = existing.find((s) => s.name === c);
    if (!callee) throw new Error(`--calls ${c}: no service named '${c}' is declared (declared: ${existing.map((s) => s.name).join(', ')})`);
    if (!MAY_CALL[options.layer].includes(callee.layer))
      throw new Error(`a ${options.layer} calls only leaf services; ${c} is a ${callee.layer}`);
    return {
      ...serviceNames(c),
      key: JSON.stringify(c).replace(/^"([a-z][a-z0-9]*)"$/, '$1'),
      standaloneGrpcPort: callee.standalonePorts.grpc,
    };
  });

  const taken = existing.flatMap((s) => Object.values(s.standalonePorts).filter((p): p is number => p !== undefined));
  const nextPort = (from: number) => {
    let port = from;
    while (taken.includes(port)) port++;
    taken.push(port);
    return port;
  };
  const standaloneGrpcPort = nextPort(Math.max(50060, ...existing.map((s) => s.standalonePorts.grpc ?? 0)) + 1);
  const standaloneMetricsPort = nextPort(Math.max(9460, ...existing.map((s) => s.standalonePorts.metrics ?? 0)) + 1);
  const owner = options.owner ?? `@strata/${n.name}-team`;
  const description = `a ${options.layer} service generated from the Strata template; say here what it owns.`;
  const declaration: ServiceDeclaration = serviceDeclaration.parse({
    name: n.name,
    layer: options.layer,
    description: description[0]!.toUpperCase() + description.slice(1),
    owners: [owner],
    calls,
    data: [],
    standalonePorts: { grpc: standaloneGrpcPort, metrics: standaloneMetricsPort },
    load: { scenarios: `loadtests/scenarios/${n.name}.js`, k6: [`loadtests/k6/grpc-${n.name}.js`] },
    capacity: {
      scenario: `grpc${n.pascal}Describe`,
      control: 'product',
      controlRate: 20,
      sloP99Ms: 100,
      startRate: 100,
      cpusPerReplica: 0.1,
      fixedCpus: 0.3,
      saturationConcurrencyPerReplica: 8,
      why: `Describe is answered by ${n.name} alone, called straight over gRPC; the control goes through the gateway to catalog and never touches ${n.name}`,
    },
  });

  const layerSentence = options.layer === 'leaf' ? 'Leaf layer: calls nothing.' : `Composite layer: calls ${calls.join(' and ')}.`;
  generateFiles(tree, TEMPLATES, '.', {
    ...n,
    layer: options.layer,
    layerTitle: options.layer === 'leaf' ? 'Leaf' : 'Composite',
    layerSentence,
    description: declaration.description,
    calls: callees,
    owner,
    standaloneGrpcPort,
    standaloneMetricsPort,
    tmpl: '',
  });
  tree.write(`apps/${n.name}/${DECLARATION_FILE}`, `${JSON.stringify(declaration, null, 2)}\n`);
  // Its standalone ports reach the kit's env defaults (ownPorts, upstreamEnv) the one way they do: generated.
  const rank = (s: ServiceDeclaration) => START_ORDER.indexOf(s.layer);
  const all = [...existing, declaration].sort((a, b) => rank(a) - rank(b) || a.name.localeCompare(b.name));
  tree.write(STANDALONE_PORTS_FILE, standalonePortsModule(new ServiceRegistry(all, tree.root)));

  // k8s: the base lists the service; every overlay that declares replicas declares its replicas too (an overlay built on
  // another, such as minikube-observability, inherits them). Its image's content tag is declared after generation.
  const base = yaml(tree, 'k8s/base/kustomization.yaml');
  (base.get('resources') as YAMLSeq).items.splice(-1, 0, base.createNode(n.name));
  tree.write('k8s/base/kustomization.yaml', base.toString({ flowCollectionPadding: false }));
  for (const overlay of tree.children('k8s/overlays')) {
    const path = `k8s/overlays/${overlay}/kustomization.yaml`;
    const doc = yaml(tree, path);
    const replicas = doc.get('replicas') as YAMLSeq | undefined;
    if (!replicas) continue;
    replicas.add(doc.createNode({ name: n.name, count: NEW_REPLICAS[overlay] ?? 1 }));
    if (overlay === 'minikube') {
      // One minikube node holds the autoscalers' maxima only as the overlay lowers them (k8s:validate checks the sum at
      // `minikube start --cpus=6`, observability included): a new service does not autoscale there (maximum = its one
      // replica) until the node has room for more — raise it here when it does.
      (doc.get('patches') as YAMLSeq).add(
        doc.createNode({
          target: { kind: 'HorizontalPodAutoscaler', name: n.name },
          patch: '[{"op": "replace", "path": "/spec/maxReplicas", "value": 1}]',
        }),
      );
    }
    tree.write(path, doc.toString({ flowCollectionPadding: false }));
  }
  // Network policies: its own (from the template), listed in the component; each callee admits it.
  const component = yaml(tree, 'k8s/components/network-policies/kustomization.yaml');
  (component.get('resources') as YAMLSeq).add(component.createNode(`${n.name}.yaml`));
  tree.write('k8s/components/network-policies/kustomization.yaml', component.toString({ flowCollectionPadding: false }));
  for (const callee of callees) {
    const path = `k8s/components/network-policies/${callee.name}.yaml`;
    const policy = yaml(tree, path);
    const from = { podSelector: { matchLabels: { 'app.kubernetes.io/name': n.name } } };
    const ingress = policy.getIn(['spec', 'ingress']) as YAMLSeq | undefined;
    const rule = ingress?.items[0] as YAMLMap | undefined;
    if (rule && rule.get('from')) (rule.get('from') as YAMLSeq).add(policy.createNode(from));
    else policy.setIn(['spec', 'ingress'], policy.createNode([{ from: [from], ports: [{ protocol: 'TCP', port: 'grpc' }] }]));
    tree.write(path, policy.toString({ flowCollectionPadding: false }));
  }
  tree.write('CODEOWNERS', renderCodeowners([...existing, declaration]));

  await formatFiles(tree);
  return () => {
    const root = tree.root;
    execFileSync('node_modules/.bin/buf', ['format', '-w', 'proto'], { cwd: root, stdio: 'inherit' });
    if (!options.skipInstall) {
      // package-lock.json must list the new workspace, or `npm ci` on a fresh clone refuses it.
      execFileSync('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline'], { cwd: root, stdio: 'inherit' });
      // The released overlays run content-tagged images only: declare the new service's (npm run release, no build).
      execFileSync('npm', ['run', '-s', 'release', '--', '--no-build', '--services', n.name], { cwd: root, stdio: 'inherit' });
    }
    console.log(
      `\n${n.name} (${options.layer}) generated. Its room: apps/${n.name}, proto/strata/${n.protoPkg}, k8s/base/${n.name}, k8s/components/network-policies/${n.name}.yaml, loadtests/scenarios/${n.name}.js, loadtests/k6/grpc-${n.name}.js.`,
    );
    console.log('Next: npm test && npm run k8s:validate, then npm start runs it with the replicas of k8s/overlays/local.');
  };
}
