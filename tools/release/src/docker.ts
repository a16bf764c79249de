import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/** Debian's docker.io client where there is one: the first docker on PATH may be a client without buildx or engine. */
export function dockerBinary(): string {
  if (process.env.DOCKER) return process.env.DOCKER;
  return existsSync('/usr/bin/docker') ? '/usr/bin/docker' : 'docker';
}

export function imageExists(docker: string, image: string, env: NodeJS.ProcessEnv = process.env): boolean {
  return spawnSync(docker, ['image', 'inspect', image], { stdio: 'ignore', env }).status === 0;
}

export function imageSize(docker: string, image: string, env: NodeJS.ProcessEnv = process.env): number {
  return Number(execFileSync(docker, ['image', 'inspect', '-f', '{{.Size}}', image], { encoding: 'utf8', env }).trim());
}

/**
 * The environment that points docker at minikube's Docker engine (`minikube docker-env`), so images are built where
 * the cluster runs them instead of being copied in with `minikube image load`.
 */
export function minikubeDockerEnv(): NodeJS.ProcessEnv {
  const out = execFileSync('minikube', ['docker-env', '--shell', 'bash'], { encoding: 'utf8' });
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const match of out.matchAll(/^export (\w+)="([^"]*)"$/gm)) env[match[1]!] = match[2]!;
  return env;
}
