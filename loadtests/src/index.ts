export * from './driver.js';
export * from './scenarios.js';
export * from './seed-order.js';
export * from './autoscaling/ramp-run.js';
