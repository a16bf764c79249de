import { z } from 'zod';

/** One `behavior.scaleUp.policies` / `scaleDown.policies` entry: at most `value` pods or percent per `periodSeconds`. */
export interface ScalingPolicy {
  type: 'Pods' | 'Percent';
  value: number;
  periodSeconds: number;
}

/** `behavior.scaleUp` or `behavior.scaleDown`, with Kubernetes' defaults filled in. */
export interface ScalingRules {
  stabilizationWindowSeconds: number;
  selectPolicy: 'Max' | 'Min' | 'Disabled';
  policies: ScalingPolicy[];
}

/** What the controller needs of one autoscaling/v2 HorizontalPodAutoscaler. */
export interface Autoscaler {
  name: string;
  /** The Deployment it scales (`scaleTargetRef.name`). */
  target: string;
  minReplicas: number;
  maxReplicas: number;
  /** `averageUtilization` of the CPU Resource metric: percent of the pods' CPU request. */
  targetCpuUtilization: number;
  behavior: { scaleUp: ScalingRules; scaleDown: ScalingRules };
}

/**
 * The defaults of `behavior` (Kubernetes "Horizontal Pod Autoscaling", "Default Behavior"): scale up at once by 100 %
 * or 4 pods per 15 s, whichever is more; scale down by up to 100 % per 15 s after a 300 s stabilization window. Each
 * field a manifest leaves out takes its default on its own, as the API server's defaulting does.
 */
export const DEFAULT_SCALE_UP: ScalingRules = {
  stabilizationWindowSeconds: 0,
  selectPolicy: 'Max',
  policies: [
    { type: 'Percent', value: 100, periodSeconds: 15 },
    { type: 'Pods', value: 4, periodSeconds: 15 },
  ],
};
export const DEFAULT_SCALE_DOWN: ScalingRules = {
  stabilizationWindowSeconds: 300,
  selectPolicy: 'Max',
  policies: [{ type: 'Percent', value: 100, periodSeconds: 15 }],
};

const policy = z.object({
  type: z.enum(['Pods', 'Percent']),
  value: z.number().int().positive(),
  periodSeconds: z.number().int().min(1).max(1800),
});
const rules = z
  .object({
    stabilizationWindowSeconds: z.number().int().min(0).max(3600).optional(),
    selectPolicy: z.enum(['Max', 'Min', 'Disabled']).optional(),
    policies: z.array(policy).min(1).optional(),
  })
  .strict();
const metric = z.object({
  type: z.string(),
  resource: z
    .object({
      name: z.string(),
      target: z.object({ type: z.string(), averageUtilization: z.number().int().positive().optional() }).passthrough(),
    })
    .optional(),
});
const hpaObject = z.object({
  apiVersion: z.literal('autoscaling/v2', { message: 'only autoscaling/v2 HorizontalPodAutoscalers are read' }),
  kind: z.literal('HorizontalPodAutoscaler'),
  metadata: z.object({ name: z.string() }).passthrough(),
  spec: z.object({
    scaleTargetRef: z.object({ apiVersion: z.string().optional(), kind: z.literal('Deployment'), name: z.string() }),
    minReplicas: z.number().int().min(1).default(1),
    maxReplicas: z.number().int().min(1),
    metrics: z.array(metric).min(1).optional(),
    behavior: z.object({ scaleUp: rules.optional(), scaleDown: rules.optional() }).strict().optional(),
  }),
});

/** The CPU target when an HPA names no metrics (autoscaling/v2 defaults to 80 % CPU utilization). */
export const DEFAULT_CPU_UTILIZATION = 80;

/**
 * Reads one HorizontalPodAutoscaler object (as rendered from an overlay) into what the controller needs. Only the
 * metric Strata declares is modelled: a `Resource` `cpu` metric with a `Utilization` target; any other metric is
 * refused with a message that says so, rather than silently ignored.
 */
export function readAutoscaler(object: unknown): Autoscaler {
  const parsed = hpaObject.safeParse(object);
  if (!parsed.success) {
    const name = (object as { metadata?: { name?: string } } | null)?.metadata?.name ?? '(unnamed)';
    const issue = parsed.error.issues[0]!;
    throw new Error(`HorizontalPodAutoscaler ${name}: ${issue.path.join('.') || 'object'}: ${issue.message}`);
  }
  const { metadata, spec } = parsed.data;
  if (spec.minReplicas > spec.maxReplicas)
    throw new Error(`HorizontalPodAutoscaler ${metadata.name}: minReplicas ${spec.minReplicas} is above maxReplicas ${spec.maxReplicas}`);
  const metrics = spec.metrics ?? [
    { type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: DEFAULT_CPU_UTILIZATION } } },
  ];
  const cpu = metrics.filter((m) => m.type === 'Resource' && m.resource?.name === 'cpu' && m.resource.target.type === 'Utilization');
  if (cpu.length !== 1 || metrics.length !== 1 || cpu[0]!.resource!.target.averageUtilization === undefined)
    throw new Error(
      `HorizontalPodAutoscaler ${metadata.name}: only one metric, a Resource cpu metric with a Utilization target, is modelled outside Kubernetes (found ${metrics.map((m) => `${m.type}${m.resource ? ` ${m.resource.name} ${m.resource.target.type}` : ''}`).join(', ')})`,
    );
  const withDefaults = (given: z.infer<typeof rules> | undefined, fallback: ScalingRules): ScalingRules => ({
    stabilizationWindowSeconds: given?.stabilizationWindowSeconds ?? fallback.stabilizationWindowSeconds,
    selectPolicy: given?.selectPolicy ?? fallback.selectPolicy,
    policies: given?.policies ?? fallback.policies,
  });
  return {
    name: metadata.name,
    target: spec.scaleTargetRef.name,
    minReplicas: spec.minReplicas,
    maxReplicas: spec.maxReplicas,
    targetCpuUtilization: cpu[0]!.resource!.target.averageUtilization!,
    behavior: {
      scaleUp: withDefaults(spec.behavior?.scaleUp, DEFAULT_SCALE_UP),
      scaleDown: withDefaults(spec.behavior?.scaleDown, DEFAULT_SCALE_DOWN),
    },
  };
}
