// Generated from the standalonePorts of apps/*/service.json (npm run generate:standalone-ports): never edit it.
// Where each service listens, and is dialled, when it runs alone on this machine (`node apps/<name>/dist/main.js`);
// in a pod the manifests set every port and target, and `npm start` sets its own.
export const STANDALONE_PORTS = {
  catalog: { grpc: 50061, metrics: 9461 },
  pricing: { grpc: 50062, metrics: 9462 },
  orders: { grpc: 50063, metrics: 9463 },
  recommendations: { grpc: 50064, metrics: 9464 },
  gateway: { http: 8080 },
} as const;
