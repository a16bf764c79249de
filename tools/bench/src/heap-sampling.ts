import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';

// Where a subject's bytes are allocated, by function: V8's sampling heap profiler, counting objects that the GCs have
// already collected too (what a request's garbage is). Loaded with --import into a subject under load:
//   NODE_OPTIONS="--max-semi-space-size=8 --import=./tools/bench/dist/heap-sampling.js" \
//   HEAP_SAMPLE_OUT=/tmp/gateway.heapprofile node apps/gateway/dist/main.js
// samples HEAP_SAMPLE_MS (8000) of it once HEAP_SAMPLE_AFTER_MS (8000) have passed, and writes the profile (Chrome
// DevTools opens it); `node tools/bench/dist/main.js heap-profile <file> <KB per request>` prints it by package
// (heap-report.ts).
// The inspector's sampling API, not --heap-prof: Node's flag keeps only the objects still alive when it stops.

const out = process.env.HEAP_SAMPLE_OUT;
if (out) {
  const session = new Session();
  session.connect();
  setTimeout(
    () => {
      void (async () => {
        await session.post('HeapProfiler.startSampling', {
          samplingInterval: 256,
          includeObjectsCollectedByMinorGC: true,
          includeObjectsCollectedByMajorGC: true,
        });
        setTimeout(
          () => {
            void session.post('HeapProfiler.stopSampling').then(({ profile }) => writeFileSync(out, JSON.stringify(profile)));
          },
          Number(process.env.HEAP_SAMPLE_MS ?? 8_000),
        ).unref();
      })();
    },
    Number(process.env.HEAP_SAMPLE_AFTER_MS ?? 8_000),
  ).unref();
}
