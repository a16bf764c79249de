import { execFileSync, spawnSync } from 'node:child_process';
import { MissingPrerequisite, requireCommand } from '@strata/preflight';

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
  requireCommand('minikube', 'install minikube (https://minikube.sigs.k8s.io) and run `minikube start`, or build without --minikube');
  const docker = spawnSync('minikube', ['docker-env', '--shell', 'bash'], { encoding: 'utf8' });
  if (docker.status !== 0)
    throw new MissingPrerequisite(
      `minikube's Docker engine does not answer (minikube docker-env: ${docker.stderr.trim().split('\n').pop()}): run \`minikube start\`, or build without --minikube`,
    );
  const out = docker.stdout;
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const match of out.matchAll(/^export (\w+)="([^"]*)"$/gm)) env[match[1]!] = match[2]!;
  return env;
}
