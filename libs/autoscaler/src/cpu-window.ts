/**
 * CPU usage over a window from cumulative CPU time, as metrics-server derives it from the kubelet's counters: the
 * difference of two readings over the time between them. A replica's first reading yields no usage yet (a pod whose
 * metrics are missing, to the controller); a restarted process (a smaller counter) starts over.
 */
export class CpuMeter {
  private readonly last = new Map<string, { cpuSeconds: number; at: number; usage?: { milli: number; at: number; windowMs: number } }>();

  /** Records `cpuSeconds` (user + system, since the process or container started) of `key` read at `at` (epoch ms). */
  record(key: string, cpuSeconds: number, at: number): void {
    const previous = this.last.get(key);
    if (!previous || cpuSeconds < previous.cpuSeconds || at <= previous.at) {
      this.last.set(key, { cpuSeconds, at });
      return;
    }
    const windowMs = at - previous.at;
    this.last.set(key, { cpuSeconds, at, usage: { milli: ((cpuSeconds - previous.cpuSeconds) * 1e6) / windowMs, at, windowMs } });
  }

  /** The usage over the last window, in millicores, when there are two readings. */
  usage(key: string): { milli: number; at: number; windowMs: number } | undefined {
    return this.last.get(key)?.usage;
  }

  /** Forgets keys that are gone (replicas removed). */
  keep(keys: Iterable<string>): void {
    const wanted = new Set(keys);
    for (const key of this.last.keys()) if (!wanted.has(key)) this.last.delete(key);
  }
}
