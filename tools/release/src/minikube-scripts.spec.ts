import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { REPO_ROOT, loadServices } from '@strata/service-registry';
import { readImageTags } from './overlay-images.js';
import { imagesMissingInMinikube, minikubeContextProblem } from './rollback.js';

// The deploy and rollback scripts' orchestration, tested with STAND-IN `minikube`, `kubectl`, `npm` and `npx`
// executables that record their calls and answer as a minikube would. No cluster can run here, so this is the only way
// to test what the scripts decide (which context they refuse, which images they load, what they apply); that the
// commands themselves work against a real minikube is NOT tested here (k8s/README.md says what was not verified).

const bin = mkdtempSync(join(tmpdir(), 'strata-standins-'));
const log = join(bin, 'calls.log');
const standIn = (name: string, body: string) => {
  writeFileSync(join(bin, name), `#!/usr/bin/env bash\necho "${name} $*" >> "${log}"\n${body}\n`);
  chmodSync(join(bin, name), 0o755);
};
standIn(
  'minikube',
  `case "$1" in
  status|version|image) [ "$1 $2" = "image ls" ] && cat "\${STANDIN_IMAGES:-/dev/null}"; exit 0 ;;
  profile) echo minikube ;;
  ip) echo 192.168.49.2 ;;
  service) echo "minikube service must not be called: it blocks" >&2; sleep 600 ;;
esac`,
);
standIn(
  'kubectl',
  `case "$1 $2" in
  "config current-context") echo "\${STANDIN_CONTEXT:-minikube}" ;;
  "version --client") echo "Client Version: v1.32.4" ;;
  "-n strata")
    case "$3 $4" in
      "get deployment") if grep -q "^kubectl apply" "${log}"; then echo "strata/$5:new"; else echo "strata/$5:old"; fi ;;
      "get service") echo 30080 ;;
    esac ;;
esac
exit 0`,
);
standIn('npm', 'exit 0');
standIn('npx', 'exit 0');
const env = (extra: Record<string, string> = {}) => ({ ...process.env, PATH: `${bin}:${process.env.PATH}`, ...extra });
const calls = () => readFileSync(log, 'utf8').trim().split('\n');
const deploy = (args: string[], extra?: Record<string, string>) => {
  writeFileSync(log, '');
  return spawnSync('bash', [join(REPO_ROOT, 'tools/release/scripts/deploy-minikube.sh'), ...args], {
    env: env(extra),
    encoding: 'utf8',
    timeout: 60_000,
  });
};
const tags = readImageTags(REPO_ROOT, 'minikube');

describe('k8s:deploy against STAND-IN minikube and kubectl (the orchestration only; no real cluster)', () => {
  it('refuses a kubectl context that is not the minikube profile, before changing anything', () => {
    const run = deploy([], { STANDIN_CONTEXT: 'production-eu' });
    assert.equal(run.status, 1, run.stderr);
    assert.match(run.stderr, /kubectl's current context is production-eu, not the minikube profile minikube; nothing was changed/);
    assert.ok(!calls().some((c) => /^kubectl apply|^minikube image load|^npm run/.test(c)), calls().join('\n'));
  });

  it('loads only the images minikube lacks, applies the overlay, and prints the URL without `minikube service`', () => {
    const images = join(bin, 'images.txt');
    writeFileSync(images, `docker.io/strata/catalog:${tags.catalog}\ndocker.io/strata/pricing:${tags.pricing}\n`);
    const run = deploy([], { STANDIN_IMAGES: images });
    assert.equal(run.status, 0, run.stderr + run.stdout);
    const loads = calls().filter((c) => c.startsWith('minikube image load'));
    assert.deepEqual(
      loads.sort(),
      loadServices()
        .names.filter((s) => s !== 'catalog' && s !== 'pricing')
        .map((s) => `minikube image load strata/${s}:${tags[s]}`)
        .sort(),
    );
    assert.ok(calls().includes('kubectl apply -k k8s/overlays/minikube'));
    assert.ok(calls().includes('npm run -s release -- --overlays minikube'));
    assert.match(run.stdout, /Gateway: http:\/\/192\.168\.49\.2:30080/);
    assert.ok(!calls().some((c) => c.startsWith('minikube service')), 'never the blocking minikube service');
    // Every image changed (the stand-in cluster ran :old before the apply, :new after): each rollout is waited for.
    for (const s of loadServices().names) assert.ok(calls().includes(`kubectl -n strata rollout status deployment/${s} --timeout=300s`));
  });

  it('applies the overlay it is given (the observability overlay keeps its tracing env)', () => {
    const run = deploy(['--overlay', 'minikube-observability']);
    assert.equal(run.status, 0, run.stderr);
    assert.ok(calls().includes('kubectl apply -k k8s/overlays/minikube-observability'), calls().join('\n'));
    assert.equal(deploy(['--overlay', 'production']).status, 1, 'production is no minikube overlay');
  });

  it('uses no construct of bash 4 or later (macOS ships bash 3.2; no bash 3.2 binary can be installed here, so this is a scan)', () => {
    const scripts = readdirSync(join(REPO_ROOT, 'tools/release/scripts')).filter((f) => f.endsWith('.sh'));
    const bash4 = [
      /declare -[aA]*A/,
      /\bmapfile\b/,
      /\breadarray\b/,
      /\$\{\w+,,\}/,
      /\$\{\w+\^\^\}/,
      /&>>/,
      /\|&/,
      /declare -n\b/,
      /\bcoproc\b/,
      /\[\[ -v /,
    ];
    for (const file of ['deploy-minikube.sh']) {
      assert.ok(scripts.includes(file));
      const text = readFileSync(join(REPO_ROOT, 'tools/release/scripts', file), 'utf8')
        .split('\n')
        .filter((line) => !line.trimStart().startsWith('#'))
        .join('\n');
      for (const pattern of bash4) assert.doesNotMatch(text, pattern, `${file} uses ${pattern}`);
    }
    // The scan can fail: the lines the script had before this change (an associative array) are caught.
    const before = 'declare -A before=()\nbefore[$app]=$(kubectl get deployment "$app")';
    assert.ok(bash4.some((p) => p.test(before)));
  });
});

describe('k8s:rollback checks against STAND-IN minikube and kubectl (no real cluster)', () => {
  it('refuses a context that is not the minikube profile', () => {
    const path = process.env.PATH;
    process.env.PATH = `${bin}:${path}`;
    try {
      process.env.STANDIN_CONTEXT = 'production-eu';
      assert.match(minikubeContextProblem() ?? '', /current context is production-eu, not the minikube profile minikube/);
      process.env.STANDIN_CONTEXT = 'minikube';
      assert.equal(minikubeContextProblem(), undefined);
    } finally {
      process.env.PATH = path;
      delete process.env.STANDIN_CONTEXT;
    }
  });

  it('lists the images of the target release that minikube lacks (a rollback after a first deploy)', () => {
    const path = process.env.PATH;
    process.env.PATH = `${bin}:${path}`;
    const images = join(bin, 'images.txt');
    writeFileSync(images, 'docker.io/strata/catalog:aaaaaaaaaaaa\ndocker.io/strata/pricing:bbbbbbbbbbbb\n');
    process.env.STANDIN_IMAGES = images;
    try {
      assert.deepEqual(imagesMissingInMinikube({ catalog: 'aaaaaaaaaaaa', pricing: 'cccccccccccc', orders: 'dddddddddddd' }), [
        'strata/pricing:cccccccccccc',
        'strata/orders:dddddddddddd',
      ]);
      assert.deepEqual(imagesMissingInMinikube({ catalog: 'aaaaaaaaaaaa' }), []);
    } finally {
      process.env.PATH = path;
      delete process.env.STANDIN_IMAGES;
    }
  });
});
