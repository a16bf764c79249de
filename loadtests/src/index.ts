export * from './driver.js';
export * from './scenarios.js';
export * from './seed-order.js';
