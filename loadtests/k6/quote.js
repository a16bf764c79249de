// k6: quotes through the gateway (pricing, catalog's batch get and the gateway share the work). Usage:
//   k6 run -e BASE_URL=http://127.0.0.1:8080 -e RATE=50 -e DURATION=1m loadtests/k6/quote.js
import { quote } from '../scenarios/pricing.js';
import { httpIteration, httpOptions, httpSetup } from './lib/options.js';

export const options = httpOptions('quote');
export const setup = httpSetup;
export default httpIteration(quote);
