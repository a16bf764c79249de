#!/usr/bin/env node
// npm run k8s:rollback — the declarative rollback: put the previous release's image tags (from the overlay's git history)
// back into k8s/overlays/<overlay>, apply the overlay, wait for the services that change. Commit the overlay afterwards:
// git then says what runs again. --dry-run writes the declaration and shows the rendered images, without applying.
import { execFileSync } from 'node:child_process';
import { exitOnMissingPrerequisite, KUBECTL_HOW, parseCommandLine, requireCommand } from '@strata/preflight';
import { REPO_ROOT } from '@strata/service-registry';
import { imagesMissingInMinikube, minikubeContextProblem, previousRelease, rollBackDeclaration } from './rollback.js';

exitOnMissingPrerequisite();
const { values } = parseCommandLine(import.meta.url, {
  options: {
    overlay: { type: 'string', default: 'minikube', description: 'the overlay of k8s/overlays to roll back' },
    'dry-run': { type: 'boolean', default: false, description: 'write the declaration and show the rendered images, without applying' },
    namespace: { type: 'string', default: 'strata', description: 'the namespace the overlay deploys to' },
  },
});
const overlay = values.overlay!;
const refuse = (message: string): never => {
  console.error(`k8s:rollback refused: ${message}`);
  process.exit(1);
};
const target = previousRelease(REPO_ROOT, overlay) ?? refuse(`k8s/overlays/${overlay}: git history holds no earlier release to go back to`);
if (!values['dry-run']) {
  // Checked before the declaration is written: a refused rollback leaves the overlay as it was.
  const contextProblem = minikubeContextProblem();
  if (contextProblem) refuse(contextProblem);
  const missing = imagesMissingInMinikube(target.tags);
  if (missing.length)
    refuse(
      `minikube lacks ${missing.length} image(s) of the release of ${target.commit.slice(0, 12)}: ${missing.join(', ')}. Build them from that commit into minikube, then roll back again:\n  git worktree add /tmp/strata-${target.commit.slice(0, 12)} ${target.commit.slice(0, 12)} && (cd /tmp/strata-${target.commit.slice(0, 12)} && npm ci && npm run images -- --minikube), with the STRATA_BASE_IMAGE that release was built with`,
    );
}
const { previous, changes } = rollBackDeclaration(REPO_ROOT, overlay);
console.log(`k8s/overlays/${overlay}: back to the release of ${previous.commit.slice(0, 12)} (${previous.subject})`);
for (const c of changes) console.log(`  ${c.service}: ${c.from} → ${c.to}`);
const dir = `k8s/overlays/${overlay}`;
if (values['dry-run']) {
  requireCommand('kubectl', `a dry run renders the overlay with kubectl kustomize: ${KUBECTL_HOW}`);
  const rendered = execFileSync('kubectl', ['kustomize', dir], { cwd: REPO_ROOT, encoding: 'utf8' });
  console.log([...new Set(rendered.match(/image: strata\/\S+/g) ?? [])].join('\n'));
  console.log('dry run: nothing applied');
} else {
  execFileSync('kubectl', ['apply', '-k', dir], { cwd: REPO_ROOT, stdio: 'inherit' });
  for (const c of changes)
    execFileSync('kubectl', ['-n', values.namespace!, 'rollout', 'status', `deployment/${c.service}`, '--timeout=300s'], {
      stdio: 'inherit',
    });
  console.log(`rolled back ${changes.length} service(s); commit ${dir}/kustomization.yaml to record the rollback`);
}
