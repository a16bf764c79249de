#!/usr/bin/env node
// `npm run report:startup` — a measurement, not a test: for each service, the time from process start to
// health SERVING (readiness for the gateway) and its resident memory after IDLE_SECONDS (12) idle. Goals: < 2 s, ≤ 120 MB.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { checkHealth } from '@strata/service-kit';
import { SERVICE_NODE_OPTIONS, loadServices } from '@strata/service-registry';
import { freePort, startEmbeddedPostgres } from '@strata/dev-kit';
import { REPO_ROOT } from './local-cluster.js';

const ROUNDS = Number(process.env.ROUNDS ?? 3);
/** RSS is read this long after SERVING: V8 returns freed heap pages to the OS some seconds after a collection. */
const IDLE_SECONDS = Number(process.env.IDLE_SECONDS ?? 12);
const database = await startEmbeddedPostgres(await freePort());
const rows: string[][] = [];
try {
  for (const declared of loadServices().services) {
    const service = declared.name;
    const startup: number[] = [];
    const rss: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const [port, metricsPort] = [await freePort(), await freePort()];
      const env = {
        ...process.env,
        NODE_OPTIONS: SERVICE_NODE_OPTIONS,
        LOG_LEVEL: 'warn',
        GRPC_PORT: String(port),
        METRICS_PORT: String(metricsPort),
        GATEWAY_PORT: String(port),
        DATABASE_URL: database.url,
      };
      const started = performance.now();
      const child = spawn(process.execPath, [`${REPO_ROOT}/apps/${service}/dist/main.js`], { env, stdio: 'ignore' });
      for (;;) {
        try {
          const ok =
            declared.layer === 'edge'
              ? (await fetch(`http://127.0.0.1:${port}/readyz`)).ok
              : (await checkHealth(`127.0.0.1:${port}`, '', 200)) === 'SERVING';
          if (ok) break;
        } catch {
          // not yet
        }
        if (performance.now() - started > 20_000) throw new Error(`${service} did not become ready`);
        await delay(5);
      }
      startup.push(performance.now() - started);
      await delay(IDLE_SECONDS * 1000);
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      rss.push(Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024);
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    rows.push([
      service,
      `${median(startup).toFixed(0)} ms`,
      `${Math.max(...startup).toFixed(0)} ms`,
      `${median(rss).toFixed(0)} MB`,
      `${Math.max(...rss).toFixed(0)} MB`,
    ]);
    console.error(`measured ${service}`);
  }
} finally {
  database.stop();
}
console.log(`Node ${process.version} ${SERVICE_NODE_OPTIONS}, ${ROUNDS} rounds per service, RSS read ${IDLE_SECONDS} s after SERVING\n`);
console.log('| service | start → SERVING (median) | (max) | RSS idle (median) | (max) |\n|---|---|---|---|---|');
for (const row of rows) console.log(`| ${row.join(' | ')} |`);
