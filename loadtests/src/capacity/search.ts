/** One open-loop probe of the SLO search. */
export interface ProbeRecord {
  rate: number;
  pass: boolean;
  p99Ms: number;
  failed: number;
  dropped: number;
  achievedRate: number;
}

/** What a probe measured (the driver's result, whichever driver ran it). */
export interface ProbeOutcome {
  /** Offered arrivals per second. */
  rate: number;
  /** Successful requests per second. */
  achievedRate: number;
  failed: number;
  dropped: number;
  p99Ms: number;
}

/** One probe passes when every request succeeded, none was dropped, p99 met the SLO and the offered rate was kept. */
export function probePasses(outcome: ProbeOutcome, sloP99Ms: number): boolean {
  return outcome.failed === 0 && outcome.dropped === 0 && outcome.p99Ms <= sloP99Ms && outcome.achievedRate >= 0.97 * outcome.rate;
}

/**
 * The highest arrival rate that meets the SLO: from `start`, grow by `growth` until a probe fails (or halve until one
 * passes), then bisect between the last pass and the first failure `refinements` times, down to 4 % of the rate.
 * The result is a lower bound within the resolution of the bisection; 0 when even ~1 req/s fails.
 */
export async function findCapacity(
  probe: (rate: number) => Promise<ProbeRecord>,
  start: number,
  refinements: number,
  { growth = 1.6, maxProbes = 12 }: { growth?: number; maxProbes?: number } = {},
): Promise<{ capacity: number; probes: ProbeRecord[] }> {
  const probes: ProbeRecord[] = [];
  let pass = 0;
  let fail = Number.POSITIVE_INFINITY;
  let rate = Math.max(1, start);
  while (probes.length < maxProbes) {
    const record = await probe(Math.round(rate));
    probes.push(record);
    if (record.pass) {
      pass = record.rate;
      if (fail !== Number.POSITIVE_INFINITY) break;
      rate = rate * growth;
    } else {
      fail = record.rate;
      if (pass > 0) break;
      rate = rate / 2;
      if (rate < 1) break;
    }
  }
  for (let k = 0; k < refinements && fail !== Number.POSITIVE_INFINITY && pass > 0 && fail - pass > Math.max(2, pass * 0.04); k++) {
    if (probes.length >= maxProbes) break;
    const mid = Math.round((pass + fail) / 2);
    const record = await probe(mid);
    probes.push(record);
    if (record.pass) pass = mid;
    else fail = mid;
  }
  return { capacity: pass, probes };
}
