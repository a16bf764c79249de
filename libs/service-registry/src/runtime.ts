/**
 * The preload that starts tracing before a service's own modules load (Node's `--import`, the way OpenTelemetry starts
 * it for ES modules): a bare specifier, resolved from the working directory (an image's `/app/apps/<app>`, the repo's
 * root). It loads nothing more when no OTLP endpoint is set.
 */
export const TRACING_PRELOAD = '@strata/service-kit/tracing-preload';

/**
 * The Node options every Strata service runs with, wherever it runs: `npm run images` passes them to the one Dockerfile
 * (`ENV NODE_OPTIONS`, part of the content tag), the local cluster, the startup report and the bench pass them.
 *
 * `--max-semi-space-size=8` (MB; V8's default on 64-bit is 16): start-up allocates fast enough (proto parsing, Nest's
 * module scan, the catalog's data set) that V8 grows the young generation to its maximum and keeps it committed
 * while the service idles: 32 MB of a 122 MB pricing, 64 MB of a 144 MB catalog. At 8 MB, idle RSS falls by 5–16 MB
 * per service, and CPU per call did not move in the bench (docs/performance.md). An earlier try, one full GC right
 * after start-up, lowered idle RSS further but made every call after an idle spell cost up to 60 % more CPU.
 * `--import=` the tracing preload (`TRACING_PRELOAD`; the local cluster passes the file of a replica's own revision).
 */
export function serviceNodeOptions(tracingPreload = TRACING_PRELOAD): string {
  return `--max-semi-space-size=8 --import=${tracingPreload}`;
}
export const SERVICE_NODE_OPTIONS = serviceNodeOptions();

/**
 * Whether a file of a workspace project's build (`dist/`) is part of what a service runs: its JavaScript and assets
 * (the contracts' .proto copies and descriptor set), not its tests, type declarations, source maps (no service runs
 * with --enable-source-maps) or build info. The one answer for the images (`npm run images` stages only these) and
 * for the local cluster's revisions (a save that changes none of them rolls nothing).
 */
export function shipsAtRunTime(file: string): boolean {
  return !/\.spec\.[cm]?js$|\.d\.[cm]?ts$|\.map$|\.tsbuildinfo$/.test(file);
}
