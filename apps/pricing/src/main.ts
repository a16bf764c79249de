import 'reflect-metadata';
import { stopOnSignals } from '@strata/service-kit';
import { startPricing } from './pricing-service.js';

stopOnSignals(await startPricing());
