import 'reflect-metadata';
import { stopOnSignals } from '@strata/service-kit';
import { startCatalog } from './catalog-service.js';

// Tracing, where asked for, was started by the preload Node runs first (`--import`, SERVICE_NODE_OPTIONS).
stopOnSignals(await startCatalog());
