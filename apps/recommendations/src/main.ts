import 'reflect-metadata';
import { stopOnSignals } from '@strata/service-kit';
import { startRecommendations } from './recommendations-service.js';

stopOnSignals(await startRecommendations());
