import 'reflect-metadata';
import { stopOnSignals } from '@strata/service-kit';
import { startOrders } from './orders-service.js';

stopOnSignals(await startOrders());
