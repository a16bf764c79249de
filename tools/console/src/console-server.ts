import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LiveMetrics, type TopologyView } from './live-metrics.js';
import { TraceStore, type OtlpTraceRequest } from './trace-store.js';

const PAGE_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'page');
const require = createRequire(import.meta.url);
const uplotDir = dirname(require.resolve('uplot'));
/** The page's libraries, served from node_modules as they are published (no bundler, nothing fetched from a CDN). */
const VENDOR: Record<string, { file: string; type: string }> = {
  // htm's standalone build: htm and Preact with its hooks in one ES module, so the page needs no import map.
  '/vendor/htm-preact.js': { file: fileURLToPath(import.meta.resolve('htm/preact/standalone')), type: 'text/javascript' },
  '/vendor/uplot.js': { file: join(uplotDir, 'uPlot.esm.js'), type: 'text/javascript' },
  '/vendor/uplot.css': { file: join(uplotDir, 'uPlot.min.css'), type: 'text/css' },
};
const PAGE: Record<string, { file: string; type: string }> = {
  '/': { file: join(PAGE_DIR, 'index.html'), type: 'text/html; charset=utf-8' },
  '/app.js': { file: join(PAGE_DIR, 'app.js'), type: 'text/javascript' },
  '/style.css': { file: join(PAGE_DIR, 'style.css'), type: 'text/css' },
};
/** Largest OTLP export accepted (the SDK's batches are far smaller). */
const MAX_EXPORT_BYTES = 8 * 1024 * 1024;

export interface ConsoleOptions {
  /** What to show; asked again on every request and every scrape. */
  source: () => TopologyView;
  port?: number;
  host?: string;
  scrapeIntervalMs?: number;
}

export interface RunningConsole {
  readonly url: string;
  /** Where services send spans (`OTEL_EXPORTER_OTLP_ENDPOINT`): the console is the local collector. */
  readonly otlpEndpoint: string;
  readonly traces: TraceStore;
  readonly metrics: LiveMetrics;
  close(): Promise<void>;
}

/** NaN and ±Infinity are not JSON: the page shows them as "–". */
const json = (value: unknown) => JSON.stringify(value, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v));

function send(res: ServerResponse, status: number, type: string, body: string | Buffer): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' }).end(body);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_EXPORT_BYTES) {
        reject(new Error(`export larger than ${MAX_EXPORT_BYTES} bytes`));
        req.destroy();
      } else chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/**
 * Serves the live view: the page (`/`), its state (`/api/state`: services, replicas, their rates, latency, errors and
 * CPU, the last reconcile events), recent traces (`/api/traces`, `/api/traces/<id>`), and an OTLP/HTTP JSON receiver
 * (`POST /v1/traces`) that the services export their spans to.
 */
export async function startConsole(options: ConsoleOptions): Promise<RunningConsole> {
  const metrics = new LiveMetrics(options.source, { intervalMs: options.scrapeIntervalMs }).start();
  const traces = new TraceStore();

  const state = () => {
    const view = options.source();
    return {
      title: view.title,
      at: Date.now(),
      services: view.services.map((s) => ({ ...s, stats: metrics.serviceStats(s.name, view), history: metrics.historyOf(s.name) })),
      replicas: view.replicas.map((r) => ({ ...r, metricsUrl: undefined, stats: metrics.replicaStats(r) })),
      events: view.events.slice(-30),
      notes: view.notes ?? [],
    };
  };

  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    try {
      if (req.method === 'POST' && path === '/v1/traces') {
        if (!(req.headers['content-type'] ?? '').includes('json')) {
          send(res, 415, 'text/plain', 'this receiver takes OTLP/HTTP JSON: set OTEL_EXPORTER_OTLP_PROTOCOL=http/json\n');
          return;
        }
        readBody(req).then(
          (body) => {
            traces.ingest(JSON.parse(body) as OtlpTraceRequest);
            send(res, 200, 'application/json', '{}');
          },
          (error: Error) => send(res, 413, 'text/plain', `${error.message}\n`),
        );
        return;
      }
      if (req.method !== 'GET') {
        send(res, 405, 'text/plain', 'only GET (and POST /v1/traces) here\n');
        return;
      }
      const file = PAGE[path] ?? VENDOR[path];
      if (file) send(res, 200, file.type, readFileSync(file.file));
      else if (path === '/api/state') send(res, 200, 'application/json', json(state()));
      else if (path === '/api/traces') send(res, 200, 'application/json', json(traces.list()));
      else if (path.startsWith('/api/traces/')) {
        const spans = traces.get(path.slice('/api/traces/'.length));
        if (spans) send(res, 200, 'application/json', json(spans));
        else send(res, 404, 'application/json', json({ error: 'no such trace (only recent traces are kept)' }));
      } else send(res, 404, 'text/plain', 'not found; the page is at /\n');
    } catch (error) {
      send(res, 500, 'text/plain', `${(error as Error).message}\n`);
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${options.host ?? '127.0.0.1'}:${port}`;
  return {
    url,
    otlpEndpoint: url,
    traces,
    metrics,
    close: () =>
      new Promise<void>((resolve) => {
        metrics.stop();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
