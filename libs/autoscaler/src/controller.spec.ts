import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { HpaController, SYNC_PERIOD_MS } from './controller.js';
import { DEFAULT_SCALE_DOWN, DEFAULT_SCALE_UP, readAutoscaler, type Autoscaler, type ScalingRules } from './hpa.js';
import { CPU_INITIALIZATION_PERIOD_MS, cpuReplicas, type PodSample } from './replica-calculator.js';
import { hpaTable, statusAfter } from './status.js';

const REQUEST = 500; // millicores, the request of every Strata service's container
const LONG_AGO = -10 * CPU_INITIALIZATION_PERIOD_MS; // pods started well before the initialization period

/** `count` ready pods started long ago, each using `milli` CPU over the 15 s window ending at `now`. */
function pods(count: number, milli: number | ((i: number) => number), now = 0): PodSample[] {
  return Array.from({ length: count }, (_, i) => ({
    name: `pod-${i}`,
    phase: 'Running' as const,
    ready: true,
    readyChangedAt: LONG_AGO,
    startedAt: LONG_AGO,
    requestMilli: REQUEST,
    usage: { milli: typeof milli === 'number' ? milli : milli(i), at: now, windowMs: SYNC_PERIOD_MS },
  }));
}

/** The same total CPU spread evenly over `count` pods (a load the replicas share, as a balancer spreads it). */
const shared = (count: number, totalMilli: number, now = 0) => pods(count, totalMilli / count, now);

function spec(overrides: Partial<Autoscaler> = {}, scaleUp: Partial<ScalingRules> = {}, scaleDown: Partial<ScalingRules> = {}): Autoscaler {
  return {
    name: 'web',
    target: 'web',
    minReplicas: 1,
    maxReplicas: 100,
    targetCpuUtilization: 50,
    ...overrides,
    behavior: { scaleUp: { ...DEFAULT_SCALE_UP, ...scaleUp }, scaleDown: { ...DEFAULT_SCALE_DOWN, ...scaleDown } },
  };
}

describe('replica calculator (the algorithm of the Kubernetes "Horizontal Pod Autoscaling" page)', () => {
  it('desired = ceil(current × current metric / target): 200m against 100m doubles, 50m halves', () => {
    // The page's example, as utilization of a 500m request: 40 % (200m) against a 20 % (100m) target.
    assert.equal(cpuReplicas(3, pods(3, 200), 20, 0).replicas, 6);
    assert.equal(cpuReplicas(4, pods(4, 50), 20, 0).replicas, 2);
  });

  it('a ratio within the 0.1 tolerance changes nothing, just outside it does', () => {
    assert.equal(cpuReplicas(4, pods(4, 0.54 * REQUEST), 50, 0).replicas, 4); // 54 % of a 50 % target: 1.08
    assert.equal(cpuReplicas(4, pods(4, 0.46 * REQUEST), 50, 0).replicas, 4); // 0.92
    assert.equal(cpuReplicas(4, pods(4, 0.56 * REQUEST), 50, 0).replicas, 5); // 1.12 → ceil(4.48)
  });

  it('utilization is usage over the CPU request, summed over the pods (an integer percent, as the controller keeps it)', () => {
    const r = cpuReplicas(
      2,
      pods(2, (i) => (i === 0 ? 700 : 100)),
      70,
      0,
    ); // 800m of 1000m requested: 80 %
    assert.equal(r.utilization, 80);
    assert.equal(r.replicas, 3); // ceil(80/70 × 2) = ceil(2.29)
  });

  it('on the way down a pod without a sample counts as using its whole request; if that reverses the direction, nothing changes', () => {
    const two = pods(2, 0.2 * REQUEST);
    const missing: PodSample = { ...two[0]!, name: 'new', usage: undefined };
    // Without the missing pod: ratio 0.4 → ceil(0.4 × 2) = 1. With it at 100 %: (20+20+100)/3 = 46 % → ratio 0.93, within the tolerance.
    assert.equal(cpuReplicas(3, [...two, missing], 50, 0).replicas, 3);
    // At 10 %: (10+10+100)/3 = 40 % → ratio 0.8 → ceil(0.8 × 3) = 3, not more than current: 3.
    assert.equal(cpuReplicas(3, [...pods(2, 0.1 * REQUEST), missing], 50, 0).replicas, 3);
    // At 2 % on 5 pods with one missing: (4×2 + 100)/5 = 21 % → 0.42 × 5 → 3.
    assert.equal(cpuReplicas(5, [...pods(4, 0.02 * REQUEST), missing], 50, 0).replicas, 3);
  });

  it('on the way up, not-yet-ready pods and pods without a sample count as idle', () => {
    const busy = pods(2, 1.0 * REQUEST); // 100 % of request against 50 %: ratio 2
    const starting: PodSample = { ...busy[0]!, name: 'starting', ready: false, readyChangedAt: -1000, startedAt: -1000 };
    const noSample: PodSample = { ...busy[0]!, name: 'fresh', usage: undefined };
    assert.equal(cpuReplicas(2, busy, 50, 0).replicas, 4);
    // (100+100+0)/3 = 66 % → 1.33 × 3 = 4
    assert.equal(cpuReplicas(3, [...busy, starting], 50, 0).replicas, 4);
    assert.equal(cpuReplicas(3, [...busy, noSample], 50, 0).replicas, 4);
    // Idle unready pods that bring the ratio within the tolerance: nothing changes. (55+55+0+0)/4 = 27 % of 25 % → 1.1
    assert.equal(cpuReplicas(4, [...pods(2, 0.55 * REQUEST), starting, { ...starting, name: 's2' }], 25, 0).replicas, 4);
  });

  it('within the CPU initialization period a pod counts only after a full sample window since it became ready', () => {
    const now = 60_000;
    const justReady: PodSample = { ...pods(1, REQUEST, now)[0]!, startedAt: 0, readyChangedAt: now - 5_000 }; // window 15 s
    const readyLonger: PodSample = { ...justReady, name: 'b', readyChangedAt: now - 20_000 };
    assert.throws(() => cpuReplicas(1, [justReady], 50, now), /no CPU sample for any ready pod/);
    assert.equal(cpuReplicas(2, [justReady, readyLonger], 50, now).counted, 1);
  });

  it('deleted and failed pods are ignored; pending pods are unready', () => {
    const live = pods(2, 0.5 * REQUEST);
    const going: PodSample = { ...live[0]!, name: 'going', deleting: true, usage: { milli: 10_000, at: 0, windowMs: SYNC_PERIOD_MS } };
    const failed: PodSample = { ...live[0]!, name: 'failed', phase: 'Failed' };
    const pending: PodSample = { ...live[0]!, name: 'pending', phase: 'Pending', usage: undefined };
    const r = cpuReplicas(2, [...live, going, failed, pending], 50, 0);
    assert.deepEqual([r.replicas, r.counted, r.unready], [2, 2, 1]);
  });
});

describe('HpaController: behavior, stabilization, min and max (documented examples)', () => {
  it('the default scale-up doubles or adds 4 pods per 15 s, whichever is more', () => {
    const c = new HpaController(spec());
    let current = 1;
    const steps: number[] = [];
    for (let t = 0; t <= 45_000; t += SYNC_PERIOD_MS) {
      current = c.sync(t, current, shared(current, 20 * REQUEST, t)).desired; // wants 40 replicas
      steps.push(current);
    }
    assert.deepEqual(steps, [5, 10, 20, 40]);
  });

  it('scaling up is not delayed (window 0 s); scaling down waits for the 300 s window, using its highest recommendation', () => {
    const c = new HpaController(spec());
    // 400 % of one request at a 50 % target asks for 8: at once as fast as the policies allow (2 → 6 → 8).
    assert.equal(c.sync(0, 2, shared(2, 4 * REQUEST)).desired, 6);
    assert.equal(c.sync(15_000, 6, shared(6, 4 * REQUEST, 15_000)).desired, 8);
    let current = 8;
    const decisions = [];
    for (let t = 30_000; t <= 345_000; t += SYNC_PERIOD_MS) {
      const d = c.sync(t, current, shared(current, 1 * REQUEST, t)); // load falls: 2 replicas would do
      decisions.push(d);
      current = d.desired;
    }
    // Until the last recommendation of 8 (t = 15 s) leaves the 300 s window, it holds 8, saying why.
    const held = decisions.filter((d) => d.at < 315_000);
    assert.ok(
      held.every((d) => d.desired === 8 && d.reason === 'ScaleDownStabilized'),
      JSON.stringify(held.map((d) => d.reason)),
    );
    assert.equal(decisions.find((d) => d.at === 315_000)!.desired, 2);
    assert.match(decisions.find((d) => d.at === 315_000)!.message, /cpu 12% of request, target 50%: 8 → 2/);
  });

  it('the scale-down policies of the page: 4 pods or 10 % per 60 s, whichever is more (selectPolicy Max)', () => {
    const down: Partial<ScalingRules> = {
      stabilizationWindowSeconds: 0,
      policies: [
        { type: 'Pods', value: 4, periodSeconds: 60 },
        { type: 'Percent', value: 10, periodSeconds: 60 },
      ],
    };
    const c = new HpaController(spec({ maxReplicas: 100 }, {}, down));
    let current = 80;
    const steps: number[] = [];
    for (let t = 0; current > 5 && t < 3_600_000; t += 61_000) {
      current = c.sync(t, current, shared(current, 2.5 * REQUEST, t)).desired; // 1250m at a 50 % target: 5 replicas wanted
      steps.push(current);
    }
    // "during the first step 8 replicas will be reduced. In the next iteration … 72, 10 % … 8"; below 40, 4 at a time.
    assert.deepEqual(steps.slice(0, 4), [72, 64, 57, 51]);
    const below40 = steps.slice(steps.findIndex((s) => s < 40) + 1);
    for (let i = 1; i < below40.length; i++) assert.ok(below40[i - 1]! - below40[i]! <= 4, `${below40}`);
    assert.equal(steps.at(-1), 5);
  });

  it('a second decrease within the policy period waits until the period has passed (the change already made counts)', () => {
    const c = new HpaController(spec({}, {}, { stabilizationWindowSeconds: 0, policies: [{ type: 'Pods', value: 1, periodSeconds: 60 }] }));
    assert.equal(c.sync(0, 4, shared(4, 0.1 * REQUEST)).desired, 3);
    const held = c.sync(15_000, 3, shared(3, 0.1 * REQUEST, 15_000));
    assert.deepEqual([held.desired, held.reason], [3, 'ScaleDownLimit']);
    assert.equal(c.sync(61_000, 3, shared(3, 0.1 * REQUEST, 61_000)).desired, 2);
  });

  it('selectPolicy Disabled turns that direction off; Min picks the policy with the smallest change', () => {
    const noDown = new HpaController(spec({}, {}, { stabilizationWindowSeconds: 0, selectPolicy: 'Disabled' }));
    assert.equal(noDown.sync(0, 6, shared(6, 0.1 * REQUEST)).desired, 6);
    const minUp = new HpaController(spec({}, { selectPolicy: 'Min' }));
    assert.equal(minUp.sync(0, 10, shared(10, 50 * REQUEST)).desired, 14); // min(100 % → 20, 4 pods → 14)
  });

  it('never goes under minReplicas or above maxReplicas, and moves a scale outside them back in', () => {
    const c = new HpaController(spec({ minReplicas: 2, maxReplicas: 6 }));
    const up = c.sync(0, 4, shared(4, 50 * REQUEST));
    assert.deepEqual([up.desired, up.reason], [6, 'TooManyReplicas']);
    assert.equal(new HpaController(spec({ minReplicas: 2, maxReplicas: 6 })).sync(0, 9, shared(9, 0)).desired, 6);
    assert.equal(new HpaController(spec({ minReplicas: 3, maxReplicas: 6 })).sync(0, 1, shared(1, 0)).desired, 3);
    assert.equal(new HpaController(spec({ minReplicas: 2 }, {}, { stabilizationWindowSeconds: 0 })).sync(0, 4, shared(4, 0)).desired, 2);
  });

  it('without a sample it keeps the scale and says so; a scale of 0 disables autoscaling', () => {
    const c = new HpaController(spec());
    const d = c.sync(
      0,
      3,
      pods(3, 0).map((p) => ({ ...p, usage: undefined })),
    );
    assert.deepEqual([d.desired, d.reason], [3, 'FailedGetResourceMetric']);
    assert.equal(c.sync(0, 0, []).desired, 0);
  });

  it('property: for any declaration and any sequence of loads, desired stays within minReplicas and maxReplicas', () => {
    fc.assert(
      fc.property(
        arbitrarySpec(),
        fc.array(fc.nat({ max: 40_000 }), { minLength: 1, maxLength: 40 }),
        fc.integer({ min: 1, max: 30 }),
        (s, loads, start) => {
          const c = new HpaController(s);
          let current = start;
          loads.forEach((load, i) => {
            const t = i * SYNC_PERIOD_MS;
            current = c.sync(t, current, shared(current, load, t)).desired;
            assert.ok(current >= s.minReplicas && current <= s.maxReplicas, `${current} outside ${s.minReplicas}..${s.maxReplicas}`);
          });
        },
      ),
      { numRuns: 300 },
    );
  });

  it('property: under a constant load it settles and then stays put (no flapping)', () => {
    fc.assert(
      fc.property(arbitrarySpec(), fc.integer({ min: 0, max: 40_000 }), fc.integer({ min: 1, max: 30 }), (s, load, start) => {
        const c = new HpaController(s);
        let current = start;
        const longest = Math.max(
          s.behavior.scaleDown.stabilizationWindowSeconds,
          s.behavior.scaleUp.stabilizationWindowSeconds,
          ...[...s.behavior.scaleUp.policies, ...s.behavior.scaleDown.policies].map((p) => p.periodSeconds),
        );
        // Enough syncs to pass every window and walk from 1 to 100 replicas at the slowest rate, then 20 more.
        const settle = Math.ceil((longest * 1000) / SYNC_PERIOD_MS) * 100 + 10;
        const seen: number[] = [];
        for (let i = 0; i < settle + 20; i++) {
          const t = i * SYNC_PERIOD_MS;
          current = c.sync(t, current, shared(current, load, t)).desired;
          if (i >= settle) seen.push(current);
        }
        assert.equal(new Set(seen).size, 1, `still changing after ${settle} syncs: ${seen}`);
      }),
      { numRuns: 60 },
    );
  });
});

function arbitrarySpec(): fc.Arbitrary<Autoscaler> {
  const policy = fc.record({
    type: fc.constantFrom('Pods' as const, 'Percent' as const),
    value: fc.integer({ min: 1, max: 200 }),
    periodSeconds: fc.integer({ min: 1, max: 120 }),
  });
  const rules = (window: number) =>
    fc.record({
      stabilizationWindowSeconds: fc.integer({ min: 0, max: window }),
      selectPolicy: fc.constantFrom('Max' as const, 'Min' as const),
      policies: fc.array(policy, { minLength: 1, maxLength: 3 }),
    });
  return fc
    .record({
      min: fc.integer({ min: 1, max: 10 }),
      span: fc.integer({ min: 0, max: 90 }),
      target: fc.integer({ min: 10, max: 150 }),
      up: rules(60),
      down: rules(300),
    })
    .map(({ min, span, target, up, down }) => ({
      name: 'p',
      target: 'p',
      minReplicas: min,
      maxReplicas: min + span,
      targetCpuUtilization: target,
      behavior: { scaleUp: up, scaleDown: down },
    }));
}

describe('readAutoscaler', () => {
  const object = (spec: Record<string, unknown>) => ({
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: { name: 'catalog' },
    spec: { scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'catalog' }, maxReplicas: 8, ...spec },
  });

  it('fills each behavior field a manifest leaves out with its own default', () => {
    const a = readAutoscaler(
      object({
        minReplicas: 3,
        metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } } }],
        behavior: { scaleDown: { stabilizationWindowSeconds: 120 } },
      }),
    );
    assert.equal(a.minReplicas, 3);
    assert.equal(a.targetCpuUtilization, 70);
    assert.deepEqual(a.behavior.scaleUp, DEFAULT_SCALE_UP);
    assert.deepEqual(a.behavior.scaleDown, { ...DEFAULT_SCALE_DOWN, stabilizationWindowSeconds: 120 });
  });

  it('refuses what it does not model, naming it (a memory metric, min above max, another API version)', () => {
    assert.throws(
      () =>
        readAutoscaler(
          object({
            metrics: [{ type: 'Resource', resource: { name: 'memory', target: { type: 'Utilization', averageUtilization: 70 } } }],
          }),
        ),
      /catalog: only one metric, a Resource cpu metric .* \(found Resource memory Utilization\)/,
    );
    assert.throws(() => readAutoscaler(object({ minReplicas: 9 })), /minReplicas 9 is above maxReplicas 8/);
    assert.throws(() => readAutoscaler({ ...object({}), apiVersion: 'autoscaling/v1' }), /only autoscaling\/v2/);
  });
});

describe('hpaTable', () => {
  it('prints what `kubectl get hpa` prints', () => {
    const s = spec({ name: 'recommendations', target: 'recommendations', minReplicas: 2, maxReplicas: 8, targetCpuUtilization: 70 });
    const c = new HpaController(s);
    const d = c.sync(Date.parse('2026-12-03T10:00:00Z'), 2, shared(2, 1400));
    const status = statusAfter(undefined, s, d, 2);
    assert.match(d.message, /^cpu 140% of request, target 70%: 2 → 4$/);
    assert.equal(
      hpaTable([status], Date.parse('2026-12-03T10:03:12Z')),
      [
        'NAME              REFERENCE                    TARGETS         MINPODS   MAXPODS   REPLICAS   AGE',
        'recommendations   Deployment/recommendations   cpu: 140%/70%   2         8         2          3m12s',
      ].join('\n'),
    );
  });
});
