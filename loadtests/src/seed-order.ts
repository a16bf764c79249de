/**
 * Places one order through the gateway at `baseUrl` (product p-000042, quantity 1, with `key` as its Idempotency-Key)
 * and returns its id: the order that load runs read back. It retries while the gateway answers 503 for up to
 * `retryForMs`, every `everyMs`: right after a first deploy, a caller started before its callee had ready pods finds
 * them within its resolution back-off (at most 5 s, the kit's grpc-js options). Any other answer is an error.
 */
export async function placeSeedOrder(
  baseUrl: string,
  key: string,
  { retryForMs = 15_000, everyMs = 250 }: { retryForMs?: number; everyMs?: number } = {},
): Promise<{ id: string; seconds: number }> {
  const started = Date.now();
  const place = () =>
    fetch(`${baseUrl}/api/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': key },
      body: JSON.stringify({ lines: [{ productId: 'p-000042', quantity: 1 }] }),
    });
  let placed = await place();
  while (placed.status === 503 && Date.now() - started < retryForMs) {
    await new Promise((resolve) => setTimeout(resolve, everyMs));
    placed = await place();
  }
  if (placed.status !== 201) throw new Error(`placing the seed order answered ${placed.status}: ${await placed.text()}`);
  const { id } = (await placed.json()) as { id: string };
  return { id, seconds: (Date.now() - started) / 1000 };
}
