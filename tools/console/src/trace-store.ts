/** One span as the page draws it. */
export interface SpanView {
  spanId: string;
  parentSpanId?: string;
  service: string;
  name: string;
  kind: 'internal' | 'server' | 'client' | 'producer' | 'consumer';
  /** Milliseconds since the epoch (fractional). */
  startMs: number;
  durationMs: number;
  error: boolean;
  attributes: Record<string, string | number | boolean>;
}

/** One trace in the list of recent traces. */
export interface TraceSummary {
  traceId: string;
  /** What the root span did, e.g. "POST /api/orders". */
  name: string;
  service: string;
  startMs: number;
  durationMs: number;
  spans: number;
  services: string[];
  error: boolean;
  requestId?: string;
}

interface OtlpValue {
  stringValue?: string;
  intValue?: string | number;
  doubleValue?: number;
  boolValue?: boolean;
}
interface OtlpAttribute {
  key: string;
  value?: OtlpValue;
}
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind?: number;
  startTimeUnixNano: string | number;
  endTimeUnixNano: string | number;
  attributes?: OtlpAttribute[];
  status?: { code?: number };
}
/** The OTLP/HTTP JSON body of an export request (`POST /v1/traces`, `OTEL_EXPORTER_OTLP_PROTOCOL=http/json`). */
export interface OtlpTraceRequest {
  resourceSpans?: { resource?: { attributes?: OtlpAttribute[] }; scopeSpans?: { spans?: OtlpSpan[] }[] }[];
}

const KINDS: SpanView['kind'][] = ['internal', 'internal', 'server', 'client', 'producer', 'consumer'];
/** The attributes the page shows; the rest stay with the exporter's target (a collector) where there is one. */
const KEPT = /^(http\.|url\.|rpc\.|db\.(system|statement|query\.text|operation|name)|strata\.|server\.|net\.peer)/;

const value = (v: OtlpValue | undefined): string | number | boolean | undefined =>
  v?.stringValue ?? (v?.intValue !== undefined ? Number(v.intValue) : (v?.doubleValue ?? v?.boolValue));
const millis = (nanos: string | number) => Number(BigInt(String(nanos)) / 1000n) / 1000;

/** A readable name for a span: the HTTP method and route of an edge request, the RPC of a gRPC span. */
function displayName(span: SpanView): string {
  const a = span.attributes;
  const method = a['http.request.method'] ?? a['http.method'];
  const route = a['http.route'] ?? a['url.path'] ?? a['http.target'];
  if (method && route && span.kind === 'server') return `${method} ${String(route).split('?')[0]}`;
  return span.name;
}

/**
 * The spans the local cluster's services export (OTLP/HTTP JSON), kept in memory for the page: the newest `maxTraces`
 * traces, at most `maxSpans` spans each. A collector would do this in Kubernetes; locally the console is the collector.
 */
export class TraceStore {
  private readonly traces = new Map<string, SpanView[]>();

  constructor(
    private readonly maxTraces = 300,
    private readonly maxSpans = 300,
  ) {}

  /** Takes one export request; returns how many spans were kept. */
  ingest(request: OtlpTraceRequest): number {
    let kept = 0;
    for (const resourceSpans of request.resourceSpans ?? []) {
      const service = String(value(resourceSpans.resource?.attributes?.find((a) => a.key === 'service.name')?.value) ?? 'unknown');
      for (const scope of resourceSpans.scopeSpans ?? []) {
        for (const span of scope.spans ?? []) {
          const attributes: SpanView['attributes'] = {};
          for (const a of span.attributes ?? []) {
            const v = value(a.value);
            if (v !== undefined && KEPT.test(a.key)) attributes[a.key] = typeof v === 'string' ? v.slice(0, 300) : v;
          }
          const view: SpanView = {
            spanId: span.spanId,
            parentSpanId: span.parentSpanId || undefined,
            service,
            name: span.name,
            kind: KINDS[span.kind ?? 1] ?? 'internal',
            startMs: millis(span.startTimeUnixNano),
            durationMs: Math.max(0, millis(span.endTimeUnixNano) - millis(span.startTimeUnixNano)),
            error: span.status?.code === 2,
            attributes,
          };
          view.name = displayName(view);
          let list = this.traces.get(span.traceId);
          if (!list) {
            list = [];
            this.traces.set(span.traceId, list);
            if (this.traces.size > this.maxTraces) this.traces.delete(this.traces.keys().next().value!);
          }
          if (list.length < this.maxSpans) {
            list.push(view);
            kept++;
          }
        }
      }
    }
    return kept;
  }

  /** The spans of one trace, in start order. */
  get(traceId: string): SpanView[] | undefined {
    return this.traces.get(traceId)?.toSorted((a, b) => a.startMs - b.startMs);
  }

  /**
   * The newest traces first, once their root span (the edge's request, which ends last and is exported last) has come:
   * until then a trace is a set of fragments, not something to show.
   */
  list(limit = 50): TraceSummary[] {
    const out: TraceSummary[] = [];
    for (const [traceId, spans] of this.traces) {
      const root = spans.find((s) => !s.parentSpanId);
      if (!root) continue;
      const start = Math.min(...spans.map((s) => s.startMs));
      const end = Math.max(...spans.map((s) => s.startMs + s.durationMs));
      const requestId = spans.map((s) => s.attributes['strata.request_id']).find((v) => v !== undefined);
      out.push({
        traceId,
        name: root.name,
        service: root.service,
        startMs: start,
        durationMs: end - start,
        spans: spans.length,
        services: [...new Set(spans.map((s) => s.service))],
        error: spans.some((s) => s.error),
        requestId: requestId === undefined ? undefined : String(requestId),
      });
    }
    return out.sort((a, b) => b.startMs - a.startMs).slice(0, limit);
  }
}
