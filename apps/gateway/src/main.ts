import 'reflect-metadata';
import { stopOnSignals } from '@strata/service-kit';
import { startGateway } from './gateway-app.js';

// Tracing, where asked for, was started by the preload Node runs first (`--import`, SERVICE_NODE_OPTIONS).
stopOnSignals(await startGateway());
