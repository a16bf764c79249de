/** Types of scenarios.js (plain JavaScript so that k6 can import it too). */
export interface LoadRequest {
  method: 'GET' | 'POST';
  path: string;
  /** A stable name for the endpoint, for reports. */
  name: string;
  headers?: Record<string, string>;
  body?: string;
}
export interface ScenarioContext {
  runId: string;
  orderId?: string;
}
export interface Scenario {
  layer: string;
  description: string;
  request(i: number, ctx: ScenarioContext): LoadRequest;
}
export declare const PRODUCT_COUNT: number;
export declare const CATEGORIES: string[];
export declare const QUERIES: string[];
export declare function productId(i: number): string;
export declare const scenarios: Record<'browse' | 'search' | 'product' | 'quote' | 'order' | 'orderRead' | 'recommendations', Scenario>;
export declare const SLO: { p95Ms: number; p99Ms: number; maxErrorRate: number };
