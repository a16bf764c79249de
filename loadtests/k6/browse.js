// k6: browse and search the catalog (limited by catalog). Usage:
//   k6 run -e BASE_URL=http://127.0.0.1:8080 -e RATE=50 -e DURATION=1m loadtests/k6/browse.js
import { browse } from '../scenarios/catalog.js';
import { httpIteration, httpOptions, httpSetup } from './lib/options.js';

export const options = httpOptions('browse');
export const setup = httpSetup;
export default httpIteration(browse);
