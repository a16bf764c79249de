/** A figure measured several times (fresh probes, same topology): what the report shows of it. */
export interface Repeated {
  values: number[];
  median: number;
  min: number;
  max: number;
  /** Largest distance of a repeat from the median, as a share of the median (0.1 = ±10 %). */
  spread: number;
  /** Some repeat is more than ±15 % away from the median: the figure is not to be trusted alone. */
  noisy: boolean;
}

/** Repeats that spread more than this around their median are flagged as noisy. */
export const NOISY_SPREAD = 0.15;

export function median(values: readonly number[]): number {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function repeated(values: readonly number[]): Repeated {
  const finite = values.filter(Number.isFinite);
  const m = median(finite);
  const spread = finite.length === 0 || m === 0 ? Number.NaN : Math.max(...finite.map((v) => Math.abs(v - m) / m));
  return {
    values: [...values],
    median: m,
    min: finite.length ? Math.min(...finite) : Number.NaN,
    max: finite.length ? Math.max(...finite) : Number.NaN,
    spread,
    noisy: Number.isFinite(spread) && spread > NOISY_SPREAD,
  };
}

/** Scaling efficiency of n replicas: what they did against n times what one did (1 = linear). */
export function efficiency(atN: number, replicas: number, atOne: number): number {
  return atOne > 0 && replicas > 0 ? atN / (replicas * atOne) : Number.NaN;
}

/** CPU observed during a saturation run, each as cores used (1 = one core busy the whole time). */
export interface CpuAccounting {
  /** Each replica of the stepped layer: cores used and its quota in cores (NaN where there is no quota). */
  stepped: { id: string; cores: number; quota: number; requests: number }[];
  /** The fixed layers (every other service), by name: cores used and quota per replica summed. */
  fixed: { service: string; cores: number; quota: number }[];
  /** The load driver (the Node engine in this process, or k6). */
  driverCores: number;
  /**
   * The Node engine's event-loop utilization over the run (0–1), absent for k6. It sees what `driverCores` cannot: on
   * a CPU it shares with the fixed layers the engine's thread waits to be scheduled, and that wait counts as busy.
   */
  driverLoop?: number;
  /** Share of the host's CPU time that was idle (0–1), over both cores. */
  hostIdle: number;
  /** The host's cores. */
  hostCores: number;
  /**
   * Where the layers run on CPU sets of their own (the pinned arrangement): the idle share of the fixed layers' CPUs
   * (theirs and the driver's), the host's cores that stand for the other nodes.
   */
  fixedNode?: { cpus: number[]; idle: number };
}

/** A resource is counted as exhausted above this share of what it may use. */
export const SATURATED = 0.85;
/**
 * The load driver is counted as exhausted above this share of one core: the Node engine serves its event loop on one
 * thread and its GC threads run on the other core, so a driver at 0.8 of a core has no loop time left (k6 is Go and
 * would spread, but is held to the same mark).
 */
export const DRIVER_SATURATED = 0.75;

export type Bound =
  | { by: 'stepped layer'; detail: string }
  | { by: 'fixed layer'; detail: string }
  | { by: 'load driver'; detail: string }
  | { by: 'host'; detail: string }
  | { by: 'none found'; detail: string };

/**
 * What bounded a saturation run, from its CPU accounting: the stepped layer when its replicas used (nearly) their
 * whole quota; otherwise the host when it had no idle CPU left, a fixed layer that used its whole quota, or the load
 * driver using a whole core (the Node engine is one thread). Only a run bound by the stepped layer says something
 * about that layer's scaling; the others are reported as bound by what ran out.
 */
export function boundBy(a: CpuAccounting): Bound {
  const quotaUse = a.stepped.filter((r) => Number.isFinite(r.quota) && r.quota > 0).map((r) => r.cores / r.quota);
  const steppedShare = quotaUse.length ? quotaUse.reduce((x, y) => x + y, 0) / quotaUse.length : Number.NaN;
  const pct = (x: number) => `${Math.round(x * 100)} %`;
  if (Number.isFinite(steppedShare) && steppedShare >= SATURATED)
    return { by: 'stepped layer', detail: `its replicas used ${pct(steppedShare)} of their CPU quota` };
  if (a.fixedNode && a.fixedNode.idle < 1 - SATURATED)
    return {
      by: 'host',
      detail: `the fixed layers' and the driver's CPU ${a.fixedNode.cpus.join(',')} was ${pct(1 - a.fixedNode.idle)} busy`,
    };
  if (a.hostIdle < 1 - SATURATED) return { by: 'host', detail: `the host's ${a.hostCores} cores were ${pct(1 - a.hostIdle)} busy` };
  const fixed = a.fixed
    .filter((f) => Number.isFinite(f.quota) && f.quota > 0)
    .map((f) => ({ ...f, share: f.cores / f.quota }))
    .sort((x, y) => y.share - x.share)[0];
  if (fixed && fixed.share >= SATURATED) return { by: 'fixed layer', detail: `${fixed.service} used ${pct(fixed.share)} of its CPU quota` };
  if (a.driverCores >= DRIVER_SATURATED) return { by: 'load driver', detail: `the driver used ${pct(a.driverCores)} of a core` };
  if (a.driverLoop !== undefined && a.driverLoop >= SATURATED)
    return {
      by: 'load driver',
      detail: `the driver's event loop was busy ${pct(a.driverLoop)} of the run (its process at ${pct(a.driverCores)} of a core)`,
    };
  // No quota (local processes): the stepped layer is the limit when its replicas together used what the host had left.
  if (!Number.isFinite(steppedShare)) {
    const steppedCores = a.stepped.reduce((x, r) => x + r.cores, 0);
    return {
      by: 'none found',
      detail: `no quota to compare with: the layer used ${steppedCores.toFixed(2)} cores, the host was ${pct(1 - a.hostIdle)} busy`,
    };
  }
  return {
    by: 'none found',
    detail: `the layer used ${pct(steppedShare)} of its quota and nothing else ran out: latency or concurrency bound`,
  };
}

/** The bound most of a step's saturation runs ended on (the first of them, on a tie). */
export function mostlyBoundBy(runs: readonly { accounting: CpuAccounting }[]): Bound {
  const bounds = runs.map((r) => boundBy(r.accounting));
  const counts = new Map<string, number>();
  for (const b of bounds) counts.set(b.by, (counts.get(b.by) ?? 0) + 1);
  const top = [...counts].sort((a, b) => b[1] - a[1])[0]![0];
  return bounds.find((b) => b.by === top)!;
}

/** Each replica's share of the requests the stepped layer served (0–1), in replica order. */
export function requestShares(stepped: readonly { requests: number }[]): number[] {
  const total = stepped.reduce((x, r) => x + r.requests, 0);
  return stepped.map((r) => (total > 0 ? r.requests / total : Number.NaN));
}
