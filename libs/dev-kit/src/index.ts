export * from './embedded-postgres.js';
export * from './free-port.js';
export * from './scrape.js';
export * from './stand-in-service.js';
export * from './port-region.js';
