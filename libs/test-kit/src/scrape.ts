/**
 * Scrapes a Prometheus page and sums the samples of counter `name` whose labels include every pair of `match`
 * (0 when the page cannot be read). Used to see which replica served how many calls.
 */
export async function scrapeCounter(
  metricsUrl: string,
  name: string,
  match: Record<string, string> = {},
  timeoutMs = 2_000,
): Promise<number> {
  let text: string;
  try {
    text = await (await fetch(metricsUrl, { signal: AbortSignal.timeout(timeoutMs) })).text();
  } catch {
    return 0;
  }
  return sumSamples(text, name, match);
}

/** Sums the samples of `name` in a Prometheus text page whose labels include every pair of `match`. */
export function sumSamples(text: string, name: string, match: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (Object.entries(match).every(([k, v]) => line.includes(`${k}="${v}"`))) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}
