import 'reflect-metadata';
import { stopOnSignals } from '@strata/service-kit';
import { startGateway } from './gateway-app.js';

stopOnSignals(await startGateway());
