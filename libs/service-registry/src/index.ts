export * from './declaration.js';
export * from './registry.js';
export * from './runtime.js';
export * from './manifests.js';
export * from './standalone-ports.js';
