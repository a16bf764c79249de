// k6: recommendations (limited by recommendations, CPU-heavy). Usage:
//   k6 run -e BASE_URL=http://127.0.0.1:8080 -e RATE=50 -e DURATION=1m loadtests/k6/recommendations.js
import { recommendations } from '../scenarios/recommendations.js';
import { httpIteration, httpOptions, httpSetup } from './lib/options.js';

export const options = httpOptions('recommendations');
export const setup = httpSetup;
export default httpIteration(recommendations);
