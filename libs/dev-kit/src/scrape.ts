/**
 * Scrapes a Prometheus page and sums the samples of counter `name` whose labels include every pair of `match`. Used
 * to see which replica served how many calls. A page that cannot be read (or is not a page of metrics) throws, saying
 * which: read as 0 it would pass for "served nothing" and inflate a before/after difference.
 */
export async function scrapeCounter(
  metricsUrl: string,
  name: string,
  match: Record<string, string> = {},
  timeoutMs = 2_000,
): Promise<number> {
  let response: Response;
  try {
    response = await fetch(metricsUrl, { signal: AbortSignal.timeout(timeoutMs) });
  } catch (error) {
    throw new Error(`could not scrape ${metricsUrl}: ${(error as Error).message}`, { cause: error });
  }
  const text = await response.text();
  if (!response.ok) throw new Error(`could not scrape ${metricsUrl}: HTTP ${response.status} ${text.slice(0, 100)}`);
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
