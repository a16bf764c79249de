export * from './declaration.js';
export * from './registry.js';
