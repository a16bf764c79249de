// k6: place orders, each with a fresh Idempotency-Key (limited by orders and PostgreSQL). Usage:
//   k6 run -e BASE_URL=http://127.0.0.1:8080 -e RATE=50 -e DURATION=1m loadtests/k6/order.js
import { order } from '../scenarios/orders.js';
import { httpIteration, httpOptions, httpSetup } from './lib/options.js';

export const options = httpOptions('order');
export const setup = httpSetup;
export default httpIteration(order);
