import { readFileSync, statSync, unwatchFile, watch, watchFile, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import * as grpc from '@grpc/grpc-js';

/**
 * Name resolution for the local cluster: `strata-local:///catalog` resolves to the addresses the supervisor publishes
 * for catalog — only ready replicas that are not being removed — and follows every change while the channel lives.
 * In Kubernetes the same client code dials `dns:///catalog:50051` (a headless Service); only the target differs.
 *
 * Why a resolver of our own (grpc-js `experimental.registerResolver`) rather than DNS served locally: local replicas
 * share 127.0.0.1 and differ by port, which A records cannot say, and grpc-js re-resolves DNS only when a connection
 * drops; a resolver pushes each change at once, as Kubernetes' endpoints do for kube-proxy (docs/architecture.md, 9).
 *
 * Importing this module registers the scheme with grpc-js: the local cluster starts each replica with
 * `--import @strata/service-kit/local-resolver` (tools/local-cluster/src/local-plan.ts); nothing else loads it, so no
 * image and no pod carries a resolver it does not use.
 */
export const LOCAL_SCHEME = 'strata-local';

/** The file the supervisor writes: `{ "services": { "catalog": ["127.0.0.1:21001", …] } }`. */
export const ENDPOINTS_FILE_VARIABLE = 'STRATA_ENDPOINTS_FILE';

export interface EndpointsDocument {
  /** Increases with every write. */
  version: number;
  services: Record<string, string[]>;
}

type Listener = () => void;

/** One watched endpoints file, shared by every resolver of the process. */
class EndpointsFile {
  private document: EndpointsDocument = { version: 0, services: {} };
  private readonly listeners = new Set<Listener>();
  private watcher?: FSWatcher;

  constructor(private readonly path: string) {
    this.reload();
    // inotify on the directory (the supervisor replaces the file by rename), and a slow stat poll as a safety net.
    // Neither keeps the process alive.
    try {
      this.watcher = watch(dirname(path), (_event, name) => {
        if (name === null || name === basename(path)) this.reload();
      });
      this.watcher.unref();
    } catch {
      // the directory does not exist yet: the poll below finds the file when it appears
    }
    watchFile(path, { interval: 1_000, persistent: false }, () => this.reload());
  }

  addresses(service: string): string[] | undefined {
    return this.document.services[service];
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(): void {
    this.watcher?.close();
    unwatchFile(this.path);
  }

  private reload(): void {
    let next: EndpointsDocument;
    try {
      if (!statSync(this.path, { throwIfNoEntry: false })) return;
      next = JSON.parse(readFileSync(this.path, 'utf8')) as EndpointsDocument;
    } catch {
      return; // a partial write cannot happen (rename), but a reader must never crash a caller
    }
    if (next.version === this.document.version) return;
    this.document = next;
    for (const listener of this.listeners) listener();
  }
}

const files = new Map<string, EndpointsFile>();
function endpointsFile(): EndpointsFile | undefined {
  const path = process.env[ENDPOINTS_FILE_VARIABLE];
  if (!path) return undefined;
  let file = files.get(path);
  if (!file) files.set(path, (file = new EndpointsFile(path)));
  return file;
}

class LocalResolver implements grpc.experimental.Resolver {
  private readonly service: string;
  private readonly unsubscribe: (() => void)[] = [];
  private last = '';

  constructor(
    target: grpc.experimental.GrpcUri,
    private readonly listener: grpc.experimental.ResolverListener,
  ) {
    this.service = target.path.replace(/^\//, '');
    const file = endpointsFile();
    const changed = () => this.emit(false);
    if (file) this.unsubscribe.push(file.subscribe(changed));
  }

  updateResolution(): void {
    setImmediate(() => this.emit(true));
  }

  destroy(): void {
    for (const stop of this.unsubscribe.splice(0)) stop();
  }

  private emit(always: boolean): void {
    const addresses = endpointsFile()?.addresses(this.service);
    const key = JSON.stringify(addresses ?? null);
    if (!always && key === this.last) return;
    this.last = key;
    if (!addresses || addresses.length === 0) {
      const where = process.env[ENDPOINTS_FILE_VARIABLE] ?? `no ${ENDPOINTS_FILE_VARIABLE} set`;
      const details = addresses ? `${this.service} has no ready replica` : `no endpoints are published for ${this.service} (${where})`;
      this.listener(
        grpc.experimental.statusOrFromError({ code: grpc.status.UNAVAILABLE, details, metadata: new grpc.Metadata() }),
        {},
        null,
        details,
      );
      return;
    }
    const endpoints = addresses.map((address) => {
      const split = address.lastIndexOf(':');
      return { addresses: [{ host: address.slice(0, split), port: Number(address.slice(split + 1)) }] };
    });
    this.listener(grpc.experimental.statusOrFromValue(endpoints), {}, null, '');
  }

  static getDefaultAuthority(target: grpc.experimental.GrpcUri): string {
    return target.path.replace(/^\//, '');
  }
}

grpc.experimental.registerResolver(LOCAL_SCHEME, LocalResolver);
