export * from './preflight.js';
export * from './command-line.js';
