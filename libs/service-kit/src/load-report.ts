import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { Gauge, type Registry } from 'prom-client';

/**
 * How often a server recomputes its load (the window of its QPS, errors and utilization), and the shortest interval
 * at which it streams reports to a client that asks for them (gRFC A51 lets a server enforce a minimum).
 */
export const LOAD_REPORT_WINDOW_MS = 1_000;

/** Status codes that say this replica failed the call (not the caller's bad input): what `eps` counts. */
const REPLICA_FAILURES = new Set([
  grpc.status.UNKNOWN,
  grpc.status.DEADLINE_EXCEEDED,
  grpc.status.RESOURCE_EXHAUSTED,
  grpc.status.INTERNAL,
  grpc.status.UNAVAILABLE,
  grpc.status.DATA_LOSS,
]);

/** One window's load of this process, as its ORCA report carries it (`xds.data.orca.v3.OrcaLoadReport`). */
export interface LoadSample {
  /**
   * What `weighted_round_robin` divides QPS by: the larger of event-loop utilization and CPU used against the CPU
   * this process may use (docs/architecture.md, "Balancing by reported load").
   */
  readonly applicationUtilization: number;
  /** Event-loop utilization over the window (0–1): the one JavaScript thread's busy share, waiting for a CPU included. */
  readonly eventLoopUtilization: number;
  /** Process CPU over the window against the cgroup's CPU limit (or the machine's CPUs where there is none). */
  readonly cpuUtilization: number;
  /** Calls answered per second. */
  readonly qps: number;
  /** Calls per second this replica failed (UNKNOWN, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, INTERNAL, UNAVAILABLE, DATA_LOSS). */
  readonly eps: number;
}

/**
 * The CPUs this process may use: the cgroup v2 quota (`cpu.max`, a Kubernetes CPU limit or `docker --cpus`), else
 * every CPU of the machine (a local replica without a limit).
 */
export function cpuLimitCores(cpuMax = readCpuMax()): number {
  const [quota, period] = (cpuMax ?? 'max').trim().split(/\s+/);
  const cores = quota === 'max' ? Number.NaN : Number(quota) / Number(period ?? 100_000);
  return Number.isFinite(cores) && cores > 0 ? cores : availableParallelism();
}

function readCpuMax(): string | undefined {
  try {
    return readFileSync('/sys/fs/cgroup/cpu.max', 'utf8');
  } catch {
    return undefined; // cgroup v1, or no cgroup file system (macOS)
  }
}

/**
 * The load a gRPC server reports out of band to its clients' `weighted_round_robin` balancers (gRFC A51/A58): the
 * transport counts every answered call (`count`), a timer turns the counts, event-loop utilization and process CPU
 * into rates once per window, and `serve` streams them to every client that subscribes (OpenRcaService).
 *
 * Why not grpc-js's `ServerMetricRecorder`: its StreamCoreMetrics stream never ends, so a graceful `tryShutdown` waits
 * for it until the drain's bound, and its timer survives the call's end unless the client cancels. This serves the
 * same service from the same .proto file (grpc-js's own), writes the first report at once, and ends every stream with
 * UNAVAILABLE when the drain begins (the client's producer then re-subscribes to the next server at that address).
 */
export class LoadReporter {
  #calls = 0;
  #errors = 0;
  #cpu = process.cpuUsage();
  #elu = performance.eventLoopUtilization();
  #at = performance.now();
  #sample: LoadSample = { applicationUtilization: 0, eventLoopUtilization: 0, cpuUtilization: 0, qps: 0, eps: 0 };
  /** The last non-zero weight: a client keeps it through windows without calls (it ignores a report that gives 0). */
  #lastWeight = 0;
  /** A fixed limit (tests), else the cgroup's, read again every window: a quota can be changed live (`docker update --cpu-quota`). */
  readonly #limitCores?: number;
  readonly #timer: NodeJS.Timeout;
  readonly #streams = new Map<ReportStream, NodeJS.Timeout>();

  constructor(options: { readonly registry?: Registry; readonly limitCores?: number; readonly windowMs?: number } = {}) {
    this.#limitCores = options.limitCores;
    this.#timer = setInterval(() => this.sampleNow(), options.windowMs ?? LOAD_REPORT_WINDOW_MS).unref();
    if (options.registry) {
      const current = () => this.#sample;
      const last = () => this.#lastWeight;
      new Gauge({
        name: 'strata_load_report',
        help: "What this replica reports to its clients' weighted_round_robin balancers over the last window (ORCA): utilization (application, event_loop, cpu), qps, eps, and weight = qps / (application utilization + eps / qps), the last non-zero one, as clients keep it.",
        labelNames: ['kind'],
        registers: [options.registry],
        collect() {
          const s = current();
          this.set({ kind: 'application_utilization' }, s.applicationUtilization);
          this.set({ kind: 'event_loop_utilization' }, s.eventLoopUtilization);
          this.set({ kind: 'cpu_utilization' }, s.cpuUtilization);
          this.set({ kind: 'qps' }, s.qps);
          this.set({ kind: 'eps' }, s.eps);
          this.set({ kind: 'weight' }, last());
        },
      });
    }
  }

  /** One call answered with `code` (the transport calls this for every call). */
  count(code: number): void {
    this.#calls++;
    if (REPLICA_FAILURES.has(code)) this.#errors++;
  }

  /** The last window's load. */
  get sample(): LoadSample {
    return this.#sample;
  }

  /** Closes the current window now (the timer does this once per window). */
  sampleNow(): LoadSample {
    const now = performance.now();
    const seconds = (now - this.#at) / 1000;
    if (seconds <= 0) return this.#sample;
    const cpu = process.cpuUsage(this.#cpu);
    const elu = performance.eventLoopUtilization(this.#elu);
    const cpuUtilization = (cpu.user + cpu.system) / 1e6 / seconds / (this.#limitCores ?? cpuLimitCores());
    this.#sample = {
      applicationUtilization: Math.max(elu.utilization, cpuUtilization),
      eventLoopUtilization: elu.utilization,
      cpuUtilization,
      qps: this.#calls / seconds,
      eps: this.#errors / seconds,
    };
    this.#lastWeight = balancerWeight(this.#sample) || this.#lastWeight;
    this.#cpu = process.cpuUsage();
    this.#elu = performance.eventLoopUtilization();
    this.#at = now;
    this.#calls = 0;
    this.#errors = 0;
    return this.#sample;
  }

  /** Adds `xds.service.orca.v3.OpenRcaService` to `server`: each subscriber gets this replica's report every interval it asked for. */
  serve(server: grpc.Server): void {
    server.addService(openRcaService(), {
      StreamCoreMetrics: (call: ReportStream) => {
        const asked = call.request.report_interval;
        const askedMs = asked ? Number(asked.seconds ?? 0) * 1000 + (asked.nanos ?? 0) / 1e6 : 0;
        const write = () => call.write(orcaReport(this.#sample));
        this.#streams.set(call, setInterval(write, Math.max(askedMs, LOAD_REPORT_WINDOW_MS)));
        const end = () => {
          clearInterval(this.#streams.get(call));
          this.#streams.delete(call);
        };
        call.on('cancelled', end);
        call.on('finish', end);
        write();
      },
    } as grpc.UntypedServiceImplementation);
  }

  /** The report streams open now (one per subscribed client channel and replica). */
  get subscribers(): number {
    return this.#streams.size;
  }

  /**
   * Stops the window timer and ends every report stream with UNAVAILABLE: a draining server must not hold them open,
   * and a client's ORCA producer re-subscribes after an error (an OK end would leave it waiting on a finished call).
   */
  close(): void {
    clearInterval(this.#timer);
    for (const [call, timer] of [...this.#streams]) {
      clearInterval(timer);
      this.#streams.delete(call);
      call.emit('error', { code: grpc.status.UNAVAILABLE, details: 'server stopping: load reports end' });
    }
  }
}

type ReportStream = grpc.ServerWritableStream<{ report_interval?: { seconds?: string; nanos?: number } }, unknown>;

/** What a client's weighted_round_robin computes from a report (gRFC A58, error_utilization_penalty 1): 0 = no weight. */
export function balancerWeight(sample: LoadSample, errorUtilizationPenalty = 1): number {
  let utilization = sample.applicationUtilization;
  if (utilization > 0 && sample.qps > 0) utilization += (sample.eps / sample.qps) * errorUtilizationPenalty;
  return utilization === 0 ? 0 : sample.qps / utilization;
}

function orcaReport(sample: LoadSample) {
  return {
    cpu_utilization: sample.cpuUtilization,
    application_utilization: sample.applicationUtilization,
    rps_fractional: sample.qps,
    eps: sample.eps,
  };
}

let orcaDefinition: grpc.ServiceDefinition | undefined;
/** OpenRcaService from the .proto files grpc-js ships (the ones its ORCA client reads), loaded once per process. */
function openRcaService(): grpc.ServiceDefinition {
  if (orcaDefinition) return orcaDefinition;
  const grpcJs = join(dirname(createRequire(import.meta.url).resolve('@grpc/grpc-js')), '..', '..');
  const definition = protoLoader.loadSync('xds/service/orca/v3/orca.proto', {
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
    includeDirs: [join(grpcJs, 'proto', 'xds'), join(grpcJs, 'proto', 'protoc-gen-validate')],
  });
  orcaDefinition = definition['xds.service.orca.v3.OpenRcaService'] as grpc.ServiceDefinition;
  return orcaDefinition;
}
