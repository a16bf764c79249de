export * from './driver.js';
export * from './scenarios.js';
