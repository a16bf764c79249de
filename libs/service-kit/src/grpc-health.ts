import * as grpc from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';

/** Asks a server's grpc.health.v1 service for the status of `service` ("" = the whole server). */
export function checkHealth(address: string, service = '', timeoutMs = 1_000): Promise<string> {
  const Client = grpc.makeGenericClientConstructor(healthService, 'Health');
  const client = new Client(address, grpc.credentials.createInsecure());
  return new Promise<string>((resolve, reject) => {
    client.makeUnaryRequest(
      '/grpc.health.v1.Health/Check',
      (value: { service: string }) => healthService.Check.requestSerialize(value),
      (bytes: Buffer) => healthService.Check.responseDeserialize(bytes) as { status: string },
      { service },
      new grpc.Metadata(),
      { deadline: Date.now() + timeoutMs },
      (error, response) => {
        client.close();
        if (error) reject(error);
        else resolve(String(response?.status));
      },
    );
  });
}

/** Polls until the server reports SERVING or the time is up. */
export async function waitForServing(address: string, timeoutMs = 10_000, service = ''): Promise<void> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < until) {
    try {
      if ((await checkHealth(address, service, 500)) === 'SERVING') return;
    } catch (error) {
      last = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${address} did not report SERVING within ${timeoutMs} ms (${String(last ?? 'not serving')})`);
}
