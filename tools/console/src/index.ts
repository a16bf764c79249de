export * from './console-server.js';
export * from './live-metrics.js';
export * from './replica-sample.js';
export * from './trace-store.js';
