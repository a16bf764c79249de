import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { closeSync, mkdirSync, openSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { checkHealth } from '@strata/service-kit';
import type { EndpointsDocument } from '@strata/service-kit/local-resolver';
import { scrapeCounter, waitForPostgres } from '@strata/dev-kit';
import { LAYER_ORDER, MAX_SLOTS, type ReplicaPlan, type ServiceTemplate } from './local-plan.js';

export type ReplicaState = 'starting' | 'ready' | 'backoff' | 'terminating' | 'stopped';

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
  /** The build this replica runs: a revision of the change loop ("r2·3fa9c1d"), or "-" for the working tree's dist. */
  revision: string;
  /** When its process last started, and when it entered its current state (a pod's start time and Ready transition). */
  startedAt?: string;
  since: string;
}

/** Desired against actual, per service: what `kubectl get deploy` shows. */
export interface ServiceStatus {
  service: string;
  layer: string;
  desired: number;
  /** Replicas that are ready and in the endpoints. */
  ready: number;
  /** Replicas that exist and are not being removed (starting, ready, restarting). */
  current: number;
  /** The revision new replicas of this service start from ("-": the working tree's dist). */
  revision: string;
  /** Current replicas that run that revision (UP-TO-DATE of `kubectl get deploy`). */
  updated: number;
  /** While a rollout replaces replicas: what it rolls out, as `kubectl rollout status` says it. */
  rollout?: string;
}

/**
 * An immutable build of one service, as an image is for a pod: replicas started from it keep running it (and restart
 * into it) whatever is built afterwards. `root` mirrors the repository's layout (apps/<name>/dist, libs/…).
 */
export interface Revision {
  /** "r2·3fa9c1d": the revision's number for this service and its content digest. */
  label: string;
  root: string;
}

/** A rollout that stopped because a new replica did not become ready; the old replicas keep serving. */
export class RolloutFailed extends Error {}

/** One thing the control loop did, or refused to do. */
export interface ReconcileEvent {
  at: string;
  service: string;
  message: string;
}

export interface SupervisorOptions {
  logDir: string;
  /** Where the addresses of ready replicas are published for the callers' strata-local:/// resolver. */
  endpointsFile: string;
  /** First restart delay; doubles per quick crash up to maxBackoffMs, and resets after a stable run. */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** A replica that stays up this long counts as stable. */
  stableAfterMs?: number;
  /** How long a replica may take to become ready. */
  readyTimeoutMs?: number;
  /** How long a stopping replica may drain before SIGKILL. */
  stopGraceMs?: number;
  /** Between taking a replica out of the endpoints and SIGTERM: time for callers to stop picking it. */
  endpointGraceMs?: number;
  /** Events kept for `npm run status`. */
  eventsKept?: number;
}

interface Replica {
  plan: ReplicaPlan;
  template: ServiceTemplate;
  slot: number;
  status: ReplicaStatus;
  child?: ChildProcess;
  startedAt: number;
  quickCrashes: number;
  /** Set when the replica is being scaled away or replaced: it no longer counts, and it is never restarted. */
  removing: boolean;
  /** Stopped on purpose and kept stopped (fault injection: stopReplica), until startReplica. */
  held: boolean;
  /** A crashed replica is started again by the loop at this time. */
  retryAt?: number;
}

/**
 * The local cluster's control loop, as a kubelet and a ReplicaSet controller are for a cluster: it keeps the actual
 * replicas of every service equal to the desired count. Each pass compares them and acts — starts a replica where
 * one is missing (a scale-up, or a crashed replica whose backoff has passed), removes the newest where there are too
 * many (out of the endpoints first, then SIGTERM so it drains, SIGKILL after a grace) — and publishes the addresses
 * of ready replicas for the callers' resolver. Desired counts change with `setDesired` (the overlay watcher).
 *
 * Why not pm2 or Nx: see docs/architecture.md (§9, "The local cluster is a control loop") — neither knows gRPC readiness, start
 * order by layer, or endpoints; this is one class. Events: 'change' (status), 'event' (a human-readable line).
 */
/** Replicas that did not become ready when the cluster started; the message names each, its state and its log. */
export class ReplicasNotReady extends Error {}

export class Supervisor extends EventEmitter {
  private readonly templates: Map<string, ServiceTemplate>;
  private readonly desired = new Map<string, number>();
  /** Replicas allowed above the desired count while a rolling restart replaces one (maxSurge). */
  private readonly surge = new Map<string, number>();
  private readonly replicas = new Map<string, Replica[]>();
  private readonly recent: ReconcileEvent[] = [];
  /** The revision new replicas of a service start from; absent: the working tree's apps/<name>/dist. */
  private readonly revisions = new Map<string, Revision>();
  /** Rollouts in progress: the revision and how many replicas it started with. */
  private readonly rollouts = new Map<string, { revision: Revision; total: number }>();
  private readonly options: Required<SupervisorOptions>;
  private stopping = false;
  /** Cancels pending backoffs and grace periods when the cluster stops, so nothing keeps the process alive. */
  private readonly stopController = new AbortController();
  private loop: Promise<void> = Promise.resolve();
  private pending = false;
  private timer?: NodeJS.Timeout;
  private endpointsVersion = 0;
  private lastEndpoints = '';

  constructor(templates: readonly ServiceTemplate[], options: SupervisorOptions) {
    super();
    this.options = {
      initialBackoffMs: 500,
      maxBackoffMs: 15_000,
      stableAfterMs: 10_000,
      readyTimeoutMs: 30_000,
      stopGraceMs: 20_000,
      endpointGraceMs: 1_000,
      eventsKept: 30,
      ...options,
    };
    mkdirSync(options.logDir, { recursive: true });
    mkdirSync(dirname(options.endpointsFile), { recursive: true });
    this.templates = new Map(templates.map((t) => [t.name, t]));
    for (const t of templates) this.replicas.set(t.name, []);
  }

  /** Every replica, in start order. */
  status(): ReplicaStatus[] {
    return this.ordered().flatMap((t) => this.replicas.get(t.name)!.map((r) => ({ ...r.status })));
  }

  /** Desired and actual replicas per service. */
  services(): ServiceStatus[] {
    return this.ordered().map((t) => {
      const list = this.replicas.get(t.name)!;
      const revision = this.revisions.get(t.name)?.label ?? '-';
      const live = list.filter((r) => !r.removing);
      const updated = live.filter((r) => r.status.revision === revision).length;
      const rollout = this.rollouts.get(t.name);
      const available = live.filter((r) => r.status.revision === revision && r.status.state === 'ready').length;
      return {
        service: t.name,
        layer: t.layer,
        desired: this.desired.get(t.name) ?? 0,
        ready: live.filter((r) => r.status.state === 'ready').length,
        current: live.length,
        revision,
        updated,
        ...(rollout
          ? {
              rollout: `rolling out ${rollout.revision.label}: ${available} of ${rollout.total} updated replicas are available (${live.length - updated} old)`,
            }
          : {}),
      };
    });
  }

  /** The last things the loop did, oldest first. */
  events(): ReconcileEvent[] {
    return [...this.recent];
  }

  /**
   * Starts the cluster with `desired` replicas per service, layer by layer (each layer ready before the next starts),
   * then keeps reconciling. Rejects, naming the replicas, when one does not become ready.
   */
  async start(desired: ReadonlyMap<string, number>): Promise<void> {
    for (const [service, count] of desired) this.desired.set(service, count);
    for (const layer of LAYER_ORDER) {
      await Promise.all(
        this.ordered()
          .filter((t) => t.layer === layer)
          .map((t) => this.reconcileService(t)),
      );
    }
    const notReady = this.status().filter((r) => r.state !== 'ready');
    if (notReady.length > 0) {
      const what = notReady.map((r) => `${r.id} (${r.state}${r.lastExit ? `, exited with ${r.lastExit}` : ''}; log ${r.logFile})`);
      throw new ReplicasNotReady(`not ready after start: ${what.join(', ')}`);
    }
    this.timer = setInterval(() => this.reconcile(), 1_000);
    this.timer.unref();
  }

  /** Declares how many replicas `service` should run; the loop converges to it. */
  setDesired(service: string, count: number, reason = 'desired replicas'): void {
    if (!this.templates.has(service)) throw new Error(`no service named ${service}`);
    const before = this.desired.get(service) ?? 0;
    if (before === count) return;
    this.desired.set(service, count);
    this.record(service, `${reason}: ${before} → ${count}`);
    this.reconcile();
  }

  /** Runs one pass of the loop soon (passes never overlap; requests during a pass make one more pass). */
  reconcile(): Promise<void> {
    if (this.pending || this.stopping) return this.loop;
    this.pending = true;
    this.loop = this.loop.then(async () => {
      this.pending = false;
      for (const template of this.ordered()) await this.reconcileService(template, false);
    });
    return this.loop;
  }

  /** Resolves when every service has as many ready replicas as desired and nothing is being removed. */
  async converged(timeoutMs = 30_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const settled =
        this.services().every((s) => s.ready === s.desired && s.current === s.desired) &&
        [...this.replicas.values()].flat().every((r) => !r.removing);
      if (settled) return;
      if (Date.now() > until) throw new Error(`not converged within ${timeoutMs} ms: ${JSON.stringify(this.services())}`);
      await delay(100);
    }
  }

  /** Stops everything: edge first, data last; each replica gets SIGTERM, then SIGKILL after the grace. */
  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.timer);
    this.stopController.abort();
    await this.loop.catch(() => undefined);
    for (const layer of [...LAYER_ORDER].reverse()) {
      await Promise.all(
        this.all()
          .filter((r) => r.plan.layer === layer)
          .map((r) => this.terminate(r)),
      );
    }
    await Promise.all(this.all().map((r) => this.terminate(r)));
  }

  /** Stops one replica gracefully and keeps it stopped, in place (fault injection: a database outage). */
  async stopReplica(id: string): Promise<void> {
    const replica = this.find(id);
    replica.held = true;
    this.publish();
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
   * Replaces every replica of `service`, one at a time, as a Deployment's rolling update with maxSurge 1 and
   * maxUnavailable 0 does: start a new replica, wait until it is ready and has served calls (minReadySeconds' role),
   * then take an old one out of the endpoints, let it drain, stop it.
   */
  async rollingRestart(service: string, settleTimeoutMs = 5_000): Promise<void> {
    this.template(service);
    const old = this.replicas.get(service)!.filter((r) => !r.removing);
    this.record(service, `rolling restart of ${old.length} replica(s)`);
    await this.replace(service, old, settleTimeoutMs);
  }

  /**
   * Rolls `service` out to `revision` the way a Deployment rolls out a new pod template (maxSurge 1,
   * maxUnavailable 0): from now on new replicas start from it, and every replica that runs another build is replaced
   * one at a time, as `rollingRestart` replaces them. Rejects with RolloutFailed when a new replica does not become
   * ready: that replica is removed, the rollout stops, and the service goes back to the revision it ran, whose
   * replicas never stopped serving.
   */
  async rollOut(service: string, revision: Revision, settleTimeoutMs = 5_000): Promise<void> {
    this.template(service);
    const previous = this.revisions.get(service);
    const old = this.replicas.get(service)!.filter((r) => !r.removing && r.status.revision !== revision.label);
    this.revisions.set(service, revision);
    this.rollouts.set(service, { revision, total: this.replicas.get(service)!.filter((r) => !r.removing).length });
    this.record(
      service,
      `rolling out ${revision.label} (from ${previous?.label ?? 'the working tree'}): ${old.length} replica(s) to replace, maxSurge 1, maxUnavailable 0`,
    );
    try {
      await this.replace(service, old, settleTimeoutMs);
      this.record(service, `rolled out ${revision.label}: every replica runs it`);
    } catch (error) {
      if (previous) this.revisions.set(service, previous);
      else this.revisions.delete(service);
      this.record(service, `rollout of ${revision.label} stopped: ${(error as Error).message}; the old replicas keep serving`);
      throw error;
    } finally {
      this.rollouts.delete(service);
      this.emit('change', this.status());
    }
  }

  /** Sets the revision new replicas of `service` start from, without replacing any (the cluster's first build). */
  setRevision(service: string, revision: Revision): void {
    this.template(service);
    this.revisions.set(service, revision);
  }

  /** One old replica after another: a successor starts and serves, then the old one leaves the endpoints and drains. */
  private async replace(service: string, old: readonly Replica[], settleTimeoutMs: number): Promise<void> {
    const template = this.template(service);
    for (const replica of old) {
      if (replica.removing) continue; // scaled away meanwhile
      // One replica above the desired count while the old one is replaced (maxSurge 1): the loop leaves it alone.
      this.surge.set(service, 1);
      try {
        const successor = this.create(template);
        await this.launch(successor);
        if (successor.status.state !== 'ready') {
          await this.remove(successor, 'did not become ready');
          throw new RolloutFailed(
            `${successor.plan.id} did not become ready (${successor.status.lastExit ? `exited with ${successor.status.lastExit}` : 'no SERVING'}; log ${successor.status.logFile})`,
          );
        }
        const until = Date.now() + settleTimeoutMs;
        while (
          Date.now() < until &&
          template.kind === 'grpc' &&
          // A metrics port that does not answer yet counts as "has served nothing yet": keep waiting.
          (await scrapeCounter(successor.plan.metricsUrl, 'grpc_server_handled_total', {}, 500).catch(() => 0)) === 0
        )
          await delay(100);
        await this.remove(replica, 'replaced');
      } finally {
        this.surge.delete(service);
      }
    }
  }

  private template(service: string): ServiceTemplate {
    const template = this.templates.get(service);
    if (!template) throw new Error(`no service named ${service}`);
    return template;
  }

  /** Kills every child at once (for process 'exit', when nothing can be awaited). */
  killAllNow(): void {
    for (const r of this.all()) r.child?.kill('SIGKILL');
  }

  private ordered(): ServiceTemplate[] {
    return [...this.templates.values()].sort(
      (a, b) => LAYER_ORDER.indexOf(a.layer) - LAYER_ORDER.indexOf(b.layer) || a.name.localeCompare(b.name),
    );
  }

  private all(): Replica[] {
    return [...this.replicas.values()].flat();
  }

  private find(id: string): Replica {
    const replica = this.all().find((r) => r.plan.id === id);
    if (!replica) throw new Error(`no replica ${id}`);
    return replica;
  }

  /** One service: start what is missing (or due a restart), remove what is too many. */
  private async reconcileService(template: ServiceTemplate, awaitRemovals = true): Promise<void> {
    if (this.stopping) return;
    const list = this.replicas.get(template.name)!;
    const live = list.filter((r) => !r.removing);
    const desired = this.desired.get(template.name) ?? 0;
    const allowed = desired + (this.surge.get(template.name) ?? 0);
    const launches: Promise<void>[] = [];
    const removals: Promise<void>[] = [];
    if (live.length > allowed) {
      // The newest first, and anything not ready before anything ready (as a ReplicaSet picks pods to delete).
      const victims = [...live]
        .sort((a, b) => Number(a.status.state === 'ready') - Number(b.status.state === 'ready') || b.slot - a.slot)
        .slice(0, live.length - allowed);
      for (const victim of victims) removals.push(this.remove(victim, `scaled down to ${desired}`));
    }
    for (let k = live.length; k < desired; k++) {
      const replica = this.create(template);
      this.record(template.name, `scaled up to ${desired}: starting ${replica.plan.id} at ${replica.plan.address}`);
      launches.push(this.launch(replica));
    }
    for (const replica of live) {
      if (
        replica.status.state === 'backoff' &&
        !replica.held &&
        replica.retryAt !== undefined &&
        replica.retryAt <= Date.now() &&
        !replica.removing
      ) {
        replica.retryAt = undefined;
        launches.push(this.launch(replica));
      }
    }
    await Promise.all(launches);
    if (awaitRemovals) await Promise.all(removals);
  }

  private create(template: ServiceTemplate): Replica {
    const list = this.replicas.get(template.name)!;
    let slot = 1;
    while (list.some((r) => r.slot === slot)) slot++;
    if (slot > MAX_SLOTS) throw new Error(`${template.name}: no free local port slot (at most ${MAX_SLOTS} replicas)`);
    const revision = this.revisions.get(template.name);
    const plan = template.replica(slot, revision?.root);
    const replica: Replica = {
      plan,
      template,
      slot,
      startedAt: 0,
      quickCrashes: 0,
      removing: false,
      held: false,
      status: {
        id: plan.id,
        service: plan.service,
        layer: plan.layer,
        address: plan.address,
        metricsUrl: plan.metricsUrl,
        logFile: join(this.options.logDir, `${plan.id}.log`),
        pid: undefined,
        state: 'stopped',
        restarts: 0,
        lastExit: undefined,
        revision: revision?.label ?? '-',
        since: new Date().toISOString(),
      },
    };
    list.push(replica);
    return replica;
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
    child.once('exit', (code, signal) => this.onExit(replica, child, code, signal));
    this.update(replica, { pid: child.pid, state: 'starting', startedAt: new Date(replica.startedAt).toISOString() });
    const ready = await this.waitReady(replica, child);
    if (ready && replica.child === child && !this.stopping && !replica.removing) {
      this.update(replica, { state: 'ready' });
      this.publish();
      this.record(plan.service, `${plan.id} ready at ${plan.address} (pid ${child.pid})`);
    } else if (!ready && replica.child === child && child.exitCode === null && !this.stopping) {
      this.record(plan.service, `${plan.id} not ready after ${this.options.readyTimeoutMs} ms; see ${status.logFile}`);
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

  private onExit(replica: Replica, child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (replica.child !== child) return;
    const how = signal ? `signal ${signal}` : `code ${code}`;
    replica.child = undefined;
    if (this.stopping || replica.held || replica.removing) {
      this.update(replica, { state: 'stopped', pid: undefined, lastExit: how });
      return;
    }
    // A crash: the replica leaves the endpoints at once, and the loop starts it again after a backoff.
    const ranFor = Date.now() - replica.startedAt;
    replica.quickCrashes = ranFor > this.options.stableAfterMs ? 0 : replica.quickCrashes + 1;
    const wait = Math.min(this.options.maxBackoffMs, this.options.initialBackoffMs * 2 ** Math.max(0, replica.quickCrashes - 1));
    replica.retryAt = Date.now() + wait;
    this.update(replica, { state: 'backoff', pid: undefined, lastExit: how, restarts: replica.status.restarts + 1 });
    this.publish();
    this.record(
      replica.plan.service,
      `${replica.plan.id} exited (${how}); restarting in ${(wait / 1000).toFixed(1)} s; log: ${replica.status.logFile}`,
    );
    setTimeout(() => this.reconcile(), wait + 10).unref();
  }

  /** Out of the endpoints, a grace for callers to stop picking it, then a graceful stop; then it is gone. */
  private async remove(replica: Replica, reason: string): Promise<void> {
    if (replica.removing) return;
    replica.removing = true;
    this.update(replica, { state: 'terminating' });
    this.publish();
    this.record(replica.plan.service, `${reason}: removing ${replica.plan.id} (out of the endpoints, then drain)`);
    try {
      await delay(this.options.endpointGraceMs, undefined, { signal: this.stopController.signal });
    } catch {
      // stopping: terminate at once
    }
    const graceful = await this.terminate(replica);
    const list = this.replicas.get(replica.plan.service)!;
    list.splice(list.indexOf(replica), 1);
    this.record(
      replica.plan.service,
      `${replica.plan.id} ${graceful ? `drained and stopped (${replica.status.lastExit ?? 'exited'})` : 'did not stop in time and was killed'}`,
    );
    this.emit('change', this.status());
  }

  /** SIGTERM, wait for the drain, SIGKILL after the grace. Resolves true when it exited on its own. */
  private async terminate(replica: Replica): Promise<boolean> {
    const child = replica.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) {
      if (replica.status.state !== 'stopped') this.update(replica, { state: 'stopped', pid: undefined });
      return true;
    }
    if (replica.status.state !== 'terminating') this.update(replica, { state: 'terminating' });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const graceful = await Promise.race([
      exited.then(() => true),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), this.options.stopGraceMs))),
    ]);
    clearTimeout(timer);
    if (!graceful) {
      this.record(replica.plan.service, `${replica.plan.id} did not stop within ${this.options.stopGraceMs} ms; killing it`);
      child.kill('SIGKILL');
      await exited;
    }
    return graceful;
  }

  /** Writes the addresses of ready gRPC replicas (not held, not being removed) where the callers' resolvers read them. */
  private publish(): void {
    const services: Record<string, string[]> = {};
    for (const template of this.templates.values()) {
      if (template.kind !== 'grpc') continue;
      services[template.name] = this.replicas
        .get(template.name)!
        .filter((r) => r.status.state === 'ready' && !r.removing && !r.held)
        .map((r) => r.plan.address);
    }
    const key = JSON.stringify(services);
    if (key === this.lastEndpoints) return;
    this.lastEndpoints = key;
    const document: EndpointsDocument = { version: ++this.endpointsVersion, services };
    const temporary = `${this.options.endpointsFile}.${process.pid}.tmp`;
    writeFileSync(temporary, JSON.stringify(document, null, 2));
    // A rename is atomic: a resolver never reads half a file.
    renameSync(temporary, this.options.endpointsFile);
  }

  /** Records one thing that happened to `service` (status events, the live page, the 'event' line). */
  record(service: string, message: string): void {
    const event = { at: new Date().toISOString(), service, message };
    this.recent.push(event);
    if (this.recent.length > this.options.eventsKept) this.recent.shift();
    this.emit('event', `${service}: ${message}`);
    this.emit('change', this.status());
  }

  private update(replica: Replica, change: Partial<ReplicaStatus>): void {
    if (change.state && change.state !== replica.status.state) change = { ...change, since: new Date().toISOString() };
    Object.assign(replica.status, change);
    this.emit('change', this.status());
  }
}
