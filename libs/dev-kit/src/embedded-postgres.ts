import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

/** The pglite-server script of @electric-sql/pglite-socket: PGlite spoken over the Postgres wire protocol. */
export function pgliteServerScript(): string {
  return join(dirname(fileURLToPath(import.meta.resolve('@electric-sql/pglite-socket'))), 'scripts', 'server.js');
}

/** Arguments for pglite-server; `dataDir` undefined = in memory. Several connections need --max-connections. */
export function pgliteServerArgs(port: number, dataDir?: string): string[] {
  return [pgliteServerScript(), `--port=${port}`, '--host=127.0.0.1', '--max-connections=64', ...(dataDir ? [`--db=${dataDir}`] : [])];
}

/** A `postgres://` URL for the embedded server on `port`. */
export const embeddedDatabaseUrl = (port: number) => `postgres://postgres:postgres@127.0.0.1:${port}/postgres`;

/** Waits until a PostgreSQL server accepts a connection and answers a query. */
export async function waitForPostgres(url: string, timeoutMs = 15_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < until) {
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1_000 });
    try {
      await client.connect();
      await client.query('SELECT 1');
      return;
    } catch (error) {
      last = error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    } finally {
      await client.end().catch(() => undefined);
    }
  }
  throw new Error(`PostgreSQL at ${url.replace(/:[^:@/]*@/, ':***@')} not ready within ${timeoutMs} ms: ${String(last)}`);
}

/** Starts an in-memory embedded PostgreSQL (PGlite) as a child process, for tests. */
export async function startEmbeddedPostgres(port: number): Promise<{ url: string; stop: () => void }> {
  const child = spawn(process.execPath, pgliteServerArgs(port), { stdio: 'ignore' });
  const url = embeddedDatabaseUrl(port);
  await waitForPostgres(url);
  return { url, stop: () => child.kill('SIGTERM') };
}
