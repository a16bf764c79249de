export * from './hpa.js';
export * from './replica-calculator.js';
export * from './controller.js';
export * from './cpu-window.js';
export * from './status.js';
export * from './autoscaler-set.js';
