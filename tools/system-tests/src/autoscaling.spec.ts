import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { loadScenarios, runOpenLoop, type LoadResult } from '@strata/loadtests';
import { REPO_ROOT, type LocalCluster } from '@strata/local-cluster';
import { startTestCluster } from './cluster-fixture.js';

/** k8s/overlays/local-autoscaling: the local replicas, a 30 s scale-down window, recommendations up to 4. */
const OVERLAY = join(REPO_ROOT, 'k8s', 'overlays', 'local-autoscaling');
/** The controller's sync period here (15 s in Kubernetes): short, so the test sees several syncs per phase. */
const SYNC_MS = 3_000;

describe('autoscaling on one machine: the HPAs of k8s/overlays/local-autoscaling act on the local cluster (the HPA algorithm in the local control loop; no Kubernetes cluster runs here)', () => {
  let cluster: LocalCluster;
  const lines: string[] = [];

  before(async () => {
    cluster = await startTestCluster({ overlayDir: OVERLAY, autoscaling: { syncPeriodMs: SYNC_MS } });
    cluster.supervisor.on('event', (line: string) => lines.push(`${new Date().toISOString().slice(11, 19)} ${line}`));
  });
  after(async () => {
    await cluster?.stop();
  });

  it('a rising load on recommendations scales recommendations out, and only it; when the load falls it scales back after the window, draining; no request fails', async () => {
    const scenario = (await loadScenarios()).recommendations!;
    const desired = () => new Map(cluster.supervisor.services().map((s) => [s.service, s.desired]));
    const declared = desired();
    assert.equal(declared.get('recommendations'), 2);
    // Every 250 ms: each service's desired count (so a scale of any layer, however brief, is seen).
    const seen = new Map<string, Set<number>>();
    const timeline: { at: number; recommendations: number }[] = [];
    const began = performance.now();
    const watcher = setInterval(() => {
      for (const [service, count] of desired()) seen.set(service, (seen.get(service) ?? new Set()).add(count));
      timeline.push({ at: performance.now() - began, recommendations: desired().get('recommendations')! });
    }, 250);
    const load = (rate: number | { from: number; to: number }, durationSec: number): Promise<LoadResult> =>
      runOpenLoop({ baseUrls: [cluster.gatewayUrl], scenario, context: { runId: `hpa-${Date.now()}` }, durationSec, rate });
    try {
      // The ramp: 10 → 55 requests/s over 45 s, then 55 for 20 s. At 40/s recommendations' two replicas used about 70 %
      // of their 500m request here, and catalog (its callee, 3 replicas) about 48 %.
      const ramp = await load({ from: 10, to: 55 }, 45);
      const hold = await load(55, 20);
      const scaledAt = timeline.find((p) => p.recommendations > 2)?.at;
      const peak = Math.max(...seen.get('recommendations')!);
      console.log(
        `ramp: ${ramp.completed}/${ramp.scheduled} ok, p99 ${ramp.latencyMs.p99.toFixed(0)} ms; hold: ${hold.completed}/${hold.scheduled} ok, p99 ${hold.latencyMs.p99.toFixed(0)} ms`,
      );
      console.log(
        `recommendations scaled out ${scaledAt === undefined ? 'never' : `${(scaledAt / 1000).toFixed(1)} s after the ramp began`}, to ${peak}`,
      );
      assert.ok(peak > 2 && peak <= 4, `recommendations peaked at ${peak} (declared 2, max 4)\n${lines.join('\n')}`);
      assert.equal(ramp.failed + ramp.dropped + hold.failed + hold.dropped, 0, JSON.stringify([ramp.errors, hold.errors]));
      const scaleOut = lines.find((l) => /recommendations: HPA recommendations: cpu \d+% of request, target 70%: 2 → [34]/.test(l));
      assert.ok(scaleOut, `no scale-out event:\n${lines.join('\n')}`);
      const status = cluster.autoscaling!.status().find((s) => s.name === 'recommendations')!;
      assert.match(status.lastScale?.message ?? '', /^cpu \d+% of request, target 70%: \d → \d/);

      // The load falls to 5/s: after the 30 s window (and a sync) recommendations goes back to its floor, draining.
      const fallen = performance.now();
      const quiet = load(5, 75);
      while (desired().get('recommendations')! > 2 && performance.now() - fallen < 70_000) await delay(250);
      const backAfter = performance.now() - fallen;
      const light = await quiet;
      console.log(
        `back to 2 replicas ${(backAfter / 1000).toFixed(1)} s after the load fell; light load ${light.completed}/${light.scheduled} ok`,
      );
      assert.equal(desired().get('recommendations'), 2, `still ${desired().get('recommendations')} replicas\n${lines.join('\n')}`);
      assert.ok(backAfter >= 30_000 - SYNC_MS, `scaled back after ${backAfter} ms, before the 30 s stabilization window`);
      assert.equal(light.failed + light.dropped, 0, JSON.stringify(light.errors));
    } finally {
      clearInterval(watcher);
    }
    // Every other layer stayed where the overlay declared it, the whole time.
    for (const [service, counts] of seen)
      if (service !== 'recommendations')
        assert.deepEqual([...counts], [declared.get(service)], `${service} went ${[...counts]}\n${lines.join('\n')}`);
    console.log(lines.filter((l) => l.includes('HPA')).join('\n'));
  });
});
