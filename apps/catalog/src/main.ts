import 'reflect-metadata';
import { stopOnSignals } from '@strata/service-kit';
import { startCatalog } from './catalog-service.js';

stopOnSignals(await startCatalog());
