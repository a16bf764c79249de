import { readFileSync } from 'node:fs';
import { readReplicaSample } from '@strata/console';

/** Jiffies of the whole host from /proc/stat: idle (idle + iowait) and total, over every core, and per CPU. */
export interface HostCpu {
  idle: number;
  total: number;
  cores: number;
  /** Each CPU's own idle and total jiffies, by its number (cpu0, cpu1, …). */
  perCpu: { idle: number; total: number }[];
}

const jiffies = (line: string) => {
  const fields = line.trim().split(/\s+/).slice(1).map(Number);
  return { idle: fields[3]! + (fields[4] ?? 0), total: fields.reduce((a, b) => a + b, 0) };
};

export function readHostCpu(): HostCpu {
  const lines = readFileSync('/proc/stat', 'utf8').split('\n');
  const perCpu: HostCpu['perCpu'] = [];
  for (const line of lines) {
    const cpu = /^cpu(\d+) /.exec(line);
    if (cpu) perCpu[Number(cpu[1])] = jiffies(line);
  }
  return { ...jiffies(lines[0]!), cores: perCpu.length, perCpu };
}

/** Share of the host's CPU time that was idle between two readings (0–1): over every CPU, or over `cpus` only. */
export function hostIdleShare(before: HostCpu, after: HostCpu, cpus?: readonly number[]): number {
  const sum = (h: HostCpu, key: 'idle' | 'total') => (cpus ? cpus.reduce((a, c) => a + (h.perCpu[c]?.[key] ?? Number.NaN), 0) : h[key]);
  const total = sum(after, 'total') - sum(before, 'total');
  return total > 0 ? (sum(after, 'idle') - sum(before, 'idle')) / total : Number.NaN;
}

/** Requests a replica has served so far, from its own metrics (0 when it cannot be read). */
export async function requestsServed(metricsUrl: string | undefined): Promise<number> {
  if (!metricsUrl) return Number.NaN;
  try {
    const response = await fetch(metricsUrl, { signal: AbortSignal.timeout(2_000) });
    return readReplicaSample(await response.text()).requests;
  } catch {
    return Number.NaN;
  }
}

/** CPU seconds a container has used, from its cgroup: the runtime's own reader (what its HPA controller reads). */
export { containerCpuReader } from '@strata/k8s-docker';

/** Periods a container was throttled by its CPU quota so far (cgroup v1 cpu.stat, or v2), where readable. */
export function containerThrottledPeriods(id: string): (() => number) | undefined {
  for (const path of [
    `/sys/fs/cgroup/cpu/docker/${id}/cpu.stat`,
    `/sys/fs/cgroup/system.slice/docker-${id}.scope/cpu.stat`,
    `/sys/fs/cgroup/docker/${id}/cpu.stat`,
  ]) {
    try {
      readFileSync(path, 'utf8');
      return () => Number(/nr_throttled (\d+)/.exec(readFileSync(path, 'utf8'))?.[1] ?? Number.NaN);
    } catch {
      // not this layout
    }
  }
  return undefined;
}
