export * from './driver.js';
export * from './scenarios.js';
export { ContainerTopology } from './capacity/container-topology.js';
