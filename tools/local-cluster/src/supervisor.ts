import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { mkdirSync, openSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { checkHealth } from '@strata/service-kit';
import { scrapeCounter, waitForPostgres } from '@strata/test-kit';
import { LAYER_ORDER, type ReplicaPlan } from './local-plan.js';

export type ReplicaState = 'starting' | 'ready' | 'backoff' | 'stopping' | 'stopped';

/** What the status command shows of one replica. */
export interface ReplicaStatus {
  id: string;
  service: string;
  layer: string;
  address: string;
  metricsUrl: string;
  logFile: string;
  pid: number | undefined;
  state: ReplicaState;
  restarts: number;
  lastExit: string | undefined;
}

export interface SupervisorOptions {
  logDir: string;
  /** First restart delay; doubles per quick crash up to maxBackoffMs, and resets after a stable run. */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** A replica that stays up this long counts as stable. */
  stableAfterMs?: number;
  /** How long a replica may take to become ready. */
  readyTimeoutMs?: number;
  /** How long a stopping replica may drain before SIGKILL. */
  stopGraceMs?: number;
}

interface Replica {
  plan: ReplicaPlan;
  /** Set while the replica is being stopped on purpose (rolling restart, stopReplica): no auto-restart. */
  held?: boolean;
  status: ReplicaStatus;
  child?: ChildProcess;
  startedAt: number;
  quickCrashes: number;
  exited?: Promise<void>;
}

/**
 * Keeps every local replica running, like a kubelet keeps a pod's containers running: starts them in
 * layer order, waits for readiness, restarts a replica that exits with exponential backoff, and stops
 * them in reverse order with SIGTERM (graceful drain) and SIGKILL after a grace period.
 *
 * Why not pm2 or Nx: see docs/architecture.md ("Local cluster supervision") — in short, neither knows gRPC
 * readiness nor start order by layer, and pm2's daemon outlives a Ctrl-C; this is one small class.
 * Events: 'change' (status), 'event' (a human-readable line).
 */
export class Supervisor extends EventEmitter {
  private readonly replicas: Replica[];
  private stopping = false;
  /** Cancels pending restart backoffs when the cluster stops, so nothing keeps the process alive. */
  private readonly stopController = new AbortController();
  private readonly options: Required<SupervisorOptions>;

  constructor(plans: readonly ReplicaPlan[], options: SupervisorOptions) {
    super();
    this.options = {
      initialBackoffMs: 500,
      maxBackoffMs: 15_000,
      stableAfterMs: 10_000,
      readyTimeoutMs: 30_000,
      stopGraceMs: 20_000,
      ...options,
    };
    mkdirSync(options.logDir, { recursive: true });
    this.replicas = plans.map((plan) => ({
      plan,
      startedAt: 0,
      quickCrashes: 0,
      status: {
        id: plan.id,
        service: plan.service,
        layer: plan.layer,
        address: plan.address,
        metricsUrl: plan.metricsUrl,
        logFile: join(options.logDir, `${plan.id}.log`),
        pid: undefined,
        state: 'stopped',
        restarts: 0,
        lastExit: undefined,
      },
    }));
  }

  /** Snapshot of every replica. */
  status(): ReplicaStatus[] {
    return this.replicas.map((r) => ({ ...r.status }));
  }

  /** Starts every replica, layer by layer, and resolves when all are ready; rejects if one is not. */
  async start(): Promise<void> {
    for (const layer of LAYER_ORDER) {
      const members = this.replicas.filter((r) => r.plan.layer === layer);
      await Promise.all(members.map((r) => this.launch(r)));
    }
    const others = this.replicas.filter((r) => !LAYER_ORDER.includes(r.plan.layer));
    await Promise.all(others.map((r) => this.launch(r)));
    // A replica that exited or never became ready (a port in use, a bad config) fails the start loudly rather
    // than leaving a cluster that answers on the wrong port.
    const notReady = this.replicas.filter((r) => r.status.state !== 'ready');
    if (notReady.length > 0) {
      throw new Error(
        `not ready after start: ${notReady.map((r) => `${r.plan.id} (${r.status.state}${r.status.lastExit ? `, exited with ${r.status.lastExit}` : ''}; log ${r.status.logFile})`).join(', ')}`,
      );
    }
  }

  /** Stops everything: edge first, data last; each replica gets SIGTERM, then SIGKILL after the grace. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.stopController.abort();
    for (const layer of [...LAYER_ORDER].reverse()) {
      await Promise.all(this.replicas.filter((r) => r.plan.layer === layer).map((r) => this.terminate(r)));
    }
    await Promise.all(this.replicas.map((r) => this.terminate(r)));
  }

  /** Stops one replica gracefully and keeps it stopped (SIGTERM, drain, SIGKILL after the grace). */
  async stopReplica(id: string): Promise<void> {
    const replica = this.find(id);
    replica.held = true;
    await this.terminate(replica);
    this.update(replica, { state: 'stopped', pid: undefined });
  }

  /** Starts a replica that stopReplica stopped; resolves when it is ready. */
  async startReplica(id: string): Promise<void> {
    const replica = this.find(id);
    replica.held = false;
    await this.launch(replica);
  }

  /**
   * Restarts every replica of `service`, one at a time, each ready again before the next one stops. Local
   * replicas have fixed addresses, so each is stopped (readiness off, drain) before its successor starts on the
   * same address; the other replicas carry the load meanwhile (with one replica there is a gap).
   */
  async rollingRestart(service: string, settleTimeoutMs = 5_000): Promise<void> {
    for (const replica of this.replicas.filter((r) => r.plan.service === service)) {
      await this.stopReplica(replica.plan.id);
      await this.startReplica(replica.plan.id);
      if (replica.status.state !== 'ready') throw new Error(`${replica.plan.id} did not become ready after a restart`);
      // Like minReadySeconds: the next replica stops only once callers have reconnected to this one, i.e. it
      // has served calls again (bounded, for a replica nobody calls).
      const until = Date.now() + settleTimeoutMs;
      while (
        Date.now() < until &&
        replica.plan.metricsUrl.startsWith('http') &&
        (await scrapeCounter(replica.plan.metricsUrl, 'grpc_server_handled_total', {}, 500)) === 0
      )
        await delay(100);
    }
  }

  private find(id: string): Replica {
    const replica = this.replicas.find((r) => r.plan.id === id);
    if (!replica) throw new Error(`no replica ${id}`);
    return replica;
  }

  /** Kills every child at once (for process 'exit', when nothing can be awaited). */
  killAllNow(): void {
    for (const r of this.replicas) r.child?.kill('SIGKILL');
  }

  private async launch(replica: Replica): Promise<void> {
    const { plan, status } = replica;
    const log = openSync(status.logFile, 'a');
    const child = spawn(process.execPath, [plan.script, ...plan.args], {
      env: { ...process.env, ...plan.env },
      stdio: ['ignore', log, log],
    });
    closeSync(log);
    replica.child = child;
    replica.startedAt = Date.now();
    replica.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(this.onExit(replica, child, code, signal))));
    this.update(replica, { pid: child.pid, state: 'starting' });
    const ready = await this.waitReady(replica, child);
    if (ready && replica.child === child && !this.stopping) {
      this.update(replica, { state: 'ready' });
      this.emit('event', `${plan.id} ready at ${plan.address} (pid ${child.pid})`);
    } else if (!ready && replica.child === child && child.exitCode === null && !this.stopping) {
      this.emit('event', `${plan.id} not ready after ${this.options.readyTimeoutMs} ms; see ${status.logFile}`);
    }
  }

  private async waitReady(replica: Replica, child: ChildProcess): Promise<boolean> {
    const until = Date.now() + this.options.readyTimeoutMs;
    const probe = replica.plan.probe;
    while (Date.now() < until && child.exitCode === null && child.signalCode === null && !this.stopping) {
      try {
        if (probe.kind === 'grpc' && (await checkHealth(probe.address, probe.service, 500)) === 'SERVING') return true;
        if (probe.kind === 'http' && (await fetch(probe.url, { signal: AbortSignal.timeout(500) })).ok) return true;
        if (probe.kind === 'postgres') {
          await waitForPostgres(probe.url, 1_000);
          return true;
        }
      } catch {
        // not up yet
      }
      await delay(100);
    }
    return false;
  }

  private async onExit(replica: Replica, child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): Promise<void> {
    if (replica.child !== child) return;
    const how = signal ? `signal ${signal}` : `code ${code}`;
    replica.child = undefined;
    if (this.stopping || replica.held) {
      this.update(replica, { state: 'stopped', pid: undefined, lastExit: how });
      return;
    }
    const ranFor = Date.now() - replica.startedAt;
    replica.quickCrashes = ranFor > this.options.stableAfterMs ? 0 : replica.quickCrashes + 1;
    const wait = Math.min(this.options.maxBackoffMs, this.options.initialBackoffMs * 2 ** Math.max(0, replica.quickCrashes - 1));
    this.update(replica, { state: 'backoff', pid: undefined, lastExit: how, restarts: replica.status.restarts + 1 });
    this.emit('event', `${replica.plan.id} exited (${how}); restarting in ${(wait / 1000).toFixed(1)} s; log: ${replica.status.logFile}`);
    try {
      await delay(wait, undefined, { signal: this.stopController.signal });
    } catch {
      return; // the cluster is stopping
    }
    if (!this.stopping && !replica.held) await this.launch(replica);
  }

  private async terminate(replica: Replica): Promise<void> {
    const child = replica.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) {
      if (replica.status.state !== 'stopped') this.update(replica, { state: 'stopped', pid: undefined });
      return;
    }
    this.update(replica, { state: 'stopping' });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const graceful = await Promise.race([
      exited.then(() => true),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), this.options.stopGraceMs))),
    ]);
    clearTimeout(timer);
    if (!graceful) {
      this.emit('event', `${replica.plan.id} did not stop within ${this.options.stopGraceMs} ms; killing it`);
      child.kill('SIGKILL');
      await exited;
    }
  }

  private update(replica: Replica, change: Partial<ReplicaStatus>): void {
    Object.assign(replica.status, change);
    this.emit('change', this.status());
  }
}
