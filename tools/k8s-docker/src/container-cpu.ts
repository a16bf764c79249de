import { readFileSync } from 'node:fs';

/**
 * CPU seconds a container has used, from its cgroup (cgroup v1 with the cgroupfs or systemd driver, or v2): what a
 * kubelet's cAdvisor reads and metrics-server turns into a pod's usage. Undefined where none of those paths exists.
 */
export function containerCpuReader(id: string): (() => number) | undefined {
  const candidates: [string, (text: string) => number][] = [
    [`/sys/fs/cgroup/cpuacct/docker/${id}/cpuacct.usage`, (t) => Number(t) / 1e9],
    [`/sys/fs/cgroup/cpu,cpuacct/docker/${id}/cpuacct.usage`, (t) => Number(t) / 1e9],
    [`/sys/fs/cgroup/cpuacct/system.slice/docker-${id}.scope/cpuacct.usage`, (t) => Number(t) / 1e9],
    [`/sys/fs/cgroup/system.slice/docker-${id}.scope/cpu.stat`, (t) => Number(/usage_usec (\d+)/.exec(t)?.[1]) / 1e6],
    [`/sys/fs/cgroup/docker/${id}/cpu.stat`, (t) => Number(/usage_usec (\d+)/.exec(t)?.[1]) / 1e6],
  ];
  for (const [path, parse] of candidates) {
    try {
      readFileSync(path, 'utf8');
      return () => parse(readFileSync(path, 'utf8'));
    } catch {
      // not this layout
    }
  }
  return undefined;
}

/** A container's CPU seconds now, or undefined when its cgroup cannot be read (gone, or another layout). */
export function containerCpuSeconds(id: string): number | undefined {
  try {
    return containerCpuReader(id)?.();
  } catch {
    return undefined;
  }
}
