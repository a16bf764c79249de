import 'reflect-metadata';
import { stopOnSignals } from '@strata/service-kit';
import { startRecommendations } from './recommendations-service.js';

// Tracing, where asked for, was started by the preload Node runs first (`--import`, SERVICE_NODE_OPTIONS).
stopOnSignals(await startRecommendations());
