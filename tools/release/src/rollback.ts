import { execFileSync } from 'node:child_process';
import { relative } from 'node:path';
import { overlayFile, parseImageTags, readImageTags, writeImageTags, type ImageTags } from './overlay-images.js';

export interface PreviousRelease {
  /** The commit that declared it. */
  commit: string;
  subject: string;
  tags: ImageTags;
}

const sameTags = (a: ImageTags, b: ImageTags) => JSON.stringify(Object.entries(a).sort()) === JSON.stringify(Object.entries(b).sort());

/**
 * The release declared before the one the overlay holds now: walking the overlay's history in git (newest first), the
 * first version whose `images:` differ from the current ones.
 */
export function previousRelease(repoRoot: string, overlay: string): PreviousRelease | undefined {
  const file = relative(repoRoot, overlayFile(repoRoot, overlay));
  const current = readImageTags(repoRoot, overlay);
  const log = execFileSync('git', ['log', '--format=%H %s', '--', file], { cwd: repoRoot, encoding: 'utf8' }).trim();
  for (const line of log ? log.split('\n') : []) {
    const [commit, ...subject] = line.split(' ');
    let text: string;
    try {
      text = execFileSync('git', ['show', `${commit}:${file}`], { cwd: repoRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    } catch {
      continue;
    }
    const tags = parseImageTags(text);
    if (Object.keys(tags).length > 0 && !sameTags(tags, current)) return { commit: commit!, subject: subject.join(' '), tags };
  }
  return undefined;
}

/** Writes the previous release's tags back into the overlay (the declarative rollback); returns what changes. */
export function rollBackDeclaration(
  repoRoot: string,
  overlay: string,
): { previous: PreviousRelease; changes: ReturnType<typeof writeImageTags> } {
  const previous = previousRelease(repoRoot, overlay);
  if (!previous) throw new Error(`k8s/overlays/${overlay}: git history holds no earlier release (no earlier images: to go back to)`);
  return { previous, changes: writeImageTags(repoRoot, overlay, previous.tags) };
}

/** A command's output, or undefined when it fails or is not installed. */
function output(command: string, args: string[]): string | undefined {
  try {
    return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return undefined;
  }
}

/**
 * Why a rollback must not touch the cluster kubectl points at, or undefined when it may: kubectl and minikube answer,
 * and the current context is the minikube profile (a context left on another cluster would receive the rollback).
 */
export function minikubeContextProblem(): string | undefined {
  if (output('kubectl', ['version', '--client']) === undefined) return 'kubectl is not installed: https://kubernetes.io/docs/tasks/tools/';
  if (output('minikube', ['version']) === undefined) return 'minikube is not installed: https://minikube.sigs.k8s.io/docs/start/';
  const profile = output('minikube', ['profile']) || 'minikube';
  const context = output('kubectl', ['config', 'current-context']) ?? '(none)';
  return context === profile
    ? undefined
    : `kubectl's current context is ${context}, not the minikube profile ${profile}; nothing was changed. Switch with: kubectl config use-context ${profile}`;
}

/** The images of a release that minikube does not have (`minikube image ls`): a rollback to them could not start a pod. */
export function imagesMissingInMinikube(tags: ImageTags): string[] {
  const present = (output('minikube', ['image', 'ls']) ?? '').split('\n');
  return Object.entries(tags)
    .map(([service, tag]) => `strata/${service}:${tag}`)
    .filter((image) => !present.some((line) => line.trim().endsWith(image)));
}
