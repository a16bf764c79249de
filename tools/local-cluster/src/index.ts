export * from './change-loop.js';
export * from './local-cluster.js';
export * from './local-plan.js';
export * from './overlay-reader.js';
export * from './status-table.js';
export * from './supervisor.js';
export * from './revisions.js';
export * from './autoscaling.js';
