import type { Order } from '@strata/contracts/orders/v1';

/** Result of trying to store an order under its idempotency key. */
export type StoreResult = { stored: true; order: Order } | { stored: false; order: Order; fingerprint: string };

/** Where orders live. The PostgreSQL implementation (`../postgres-order-store.ts`) is the only one; tests of the domain use a map. */
export interface OrderStore {
  /** Stores `order` unless its key exists; then returns the order stored under the key and its fingerprint. */
  insertOnce(order: Order, fingerprint: string): Promise<StoreResult>;
  findByKey(idempotencyKey: string): Promise<{ order: Order; fingerprint: string } | undefined>;
  findById(id: string): Promise<Order | undefined>;
  close(): Promise<void>;
}
