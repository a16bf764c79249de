import pg from 'pg';
import type { Order } from '@strata/contracts/orders/v1';
import { unavailable } from '@strata/domain-errors';
import type { OrderStore, StoreResult } from './domain/order-store.js';

/**
 * Versioned schema changes, applied in order. Each is also idempotent (IF NOT EXISTS) and runs without an explicit
 * transaction: on PostgreSQL the advisory lock below serialises replicas that start together, but the embedded
 * PGlite server multiplexes every client onto one session, where session locks and transactions are shared.
 */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE IF NOT EXISTS orders (
     id              text PRIMARY KEY,
     idempotency_key text NOT NULL UNIQUE,
     fingerprint     text NOT NULL,
     customer_email  text NOT NULL,
     currency_code   text NOT NULL,
     total_minor     bigint NOT NULL,
     body            jsonb NOT NULL,
     created_at      timestamptz NOT NULL
   )`,
  `CREATE INDEX IF NOT EXISTS orders_created_at ON orders (created_at)`,
];
/** Any constant: replicas that start together serialise their migrations on this advisory lock. */
const MIGRATION_LOCK = 74_110_001;

export class PostgresOrderStore implements OrderStore {
  private migrated = false;
  private constructor(private readonly pool: pg.Pool) {}

  /** Connects and brings the schema up to date; safe when several replicas start at once. */
  static async open(databaseUrl: string, poolSize: number): Promise<PostgresOrderStore> {
    const store = PostgresOrderStore.create(databaseUrl, poolSize);
    await store.migrate();
    return store;
  }

  /** A store whose pool connects on first use; `waitUntilMigrated` brings the schema up to date. */
  static create(databaseUrl: string, poolSize: number): PostgresOrderStore {
    const pool = new pg.Pool({
      connectionString: databaseUrl,
      max: poolSize,
      connectionTimeoutMillis: 1_000,
      idleTimeoutMillis: 10_000,
      query_timeout: 3_000,
    });
    pool.on('error', () => undefined); // an idle client's error surfaces on the next query instead
    return new PostgresOrderStore(pool);
  }

  /**
   * Migrates, retrying with a bounded back-off (0.25 s doubling to 5 s) while the database cannot be reached — on a
   * first deploy PostgreSQL starts after orders, and a crash would only restart orders into the same wait.
   */
  async waitUntilMigrated(signal: AbortSignal, onRetry: (error: Error, waitMs: number) => void): Promise<void> {
    for (let waitMs = 250; ; waitMs = Math.min(5_000, waitMs * 2)) {
      try {
        await this.migrate();
        return;
      } catch (error) {
        if (signal.aborted) throw error;
        onRetry(error as Error, waitMs);
        await new Promise((resolve) => setTimeout(resolve, waitMs));
        if (signal.aborted) throw error;
      }
    }
  }

  private async migrate(): Promise<void> {
    const client = await this.pool.connect();
    try {
      await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
      await client.query(
        'CREATE TABLE IF NOT EXISTS schema_migrations (version int PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())',
      );
      const { rows } = await client.query<{ version: number }>('SELECT version FROM schema_migrations');
      const applied = new Set(rows.map((r) => r.version));
      for (const [index, sql] of MIGRATIONS.entries()) {
        const version = index + 1;
        if (applied.has(version)) continue;
        await client.query(sql);
        await client.query('INSERT INTO schema_migrations (version) VALUES ($1) ON CONFLICT DO NOTHING', [version]);
      }
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined);
      client.release();
    }
    this.migrated = true;
  }

  async insertOnce(order: Order, fingerprint: string): Promise<StoreResult> {
    const inserted = await this.query<{ body: Order }>(
      `INSERT INTO orders (id, idempotency_key, fingerprint, customer_email, currency_code, total_minor, body, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
       ON CONFLICT (idempotency_key) DO NOTHING
       RETURNING body`,
      [
        order.id,
        order.idempotencyKey,
        fingerprint,
        order.customerEmail,
        order.total?.currencyCode ?? '',
        order.total?.minorUnits ?? 0,
        JSON.stringify(order),
        order.createdAt,
      ],
    );
    if (inserted.length === 1) return { stored: true, order: inserted[0]!.body };
    const existing = await this.findByKey(order.idempotencyKey);
    if (!existing) throw unavailable('the order could not be stored nor found; retry with the same Idempotency-Key');
    return { stored: false, ...existing };
  }

  async findByKey(idempotencyKey: string): Promise<{ order: Order; fingerprint: string } | undefined> {
    const rows = await this.query<{ body: Order; fingerprint: string }>('SELECT body, fingerprint FROM orders WHERE idempotency_key = $1', [
      idempotencyKey,
    ]);
    return rows[0] ? { order: rows[0].body, fingerprint: rows[0].fingerprint } : undefined;
  }

  async findById(id: string): Promise<Order | undefined> {
    const rows = await this.query<{ body: Order }>('SELECT body FROM orders WHERE id = $1', [id]);
    return rows[0]?.body;
  }

  /** How many orders use this key (for tests: exactly-once). */
  async countByKey(idempotencyKey: string): Promise<number> {
    const rows = await this.query<{ n: string }>('SELECT count(*) AS n FROM orders WHERE idempotency_key = $1', [idempotencyKey]);
    return Number(rows[0]?.n ?? 0);
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  /** A database that cannot be reached is UNAVAILABLE (callers may retry), never a hang or INTERNAL. */
  private async query<R extends pg.QueryResultRow>(sql: string, params: unknown[]): Promise<R[]> {
    if (!this.migrated) throw unavailable('orders database not reached yet (orders is starting); retry with the same Idempotency-Key');
    try {
      return (await this.pool.query<R>(sql, params)).rows;
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code && /^(08|57P|53)/.test(code))
        throw unavailable(`orders database unavailable (${code}); retry with the same Idempotency-Key`);
      // Node's network errors: refused, reset, timed out, and the database's name not resolving (ENOTFOUND, EAI_AGAIN:
      // a headless Service has no address while its one pod is being replaced).
      if (
        !code ||
        /^(ECONN|ETIMEDOUT|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH|EPIPE)/.test(code) ||
        /ECONN|ETIMEDOUT|timeout|terminated|Connection/i.test(String((error as Error).message))
      ) {
        throw unavailable('orders database unavailable; retry with the same Idempotency-Key');
      }
      throw error;
    }
  }
}
