import { readFileSync } from 'node:fs';

// A sampled heap profile (heap-sampling.ts) read back: `node tools/bench/dist/main.js heap-profile <file> <KB/request>`.

interface SampledNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: SampledNode[];
}

/** Who allocated: the package of the function's file, Node's own code, or V8 (builtins, no file). */
function packageOf(url: string): string {
  if (!url) return '(V8 builtins: Map, Object.assign, Promise …)';
  if (url.startsWith('node:')) return 'node core';
  const inModules = /node_modules\/((@[^/]+\/)?[^/]+)/.exec(url);
  if (inModules) return inModules[1]!;
  const inRepo = /\/(libs|apps|tools|loadtests)\/([^/]+)\//.exec(url);
  return inRepo ? `${inRepo[1]}/${inRepo[2]}` : url;
}

/**
 * A sampled heap profile, as KB per request by package and the top allocating functions. The profile counts bytes,
 * not requests: `kbPerRequest` (the bench's "KB allocated/request" of the same subject) turns its total into requests.
 */
export function heapProfileReport(file: string, kbPerRequest: number, top = 25): string {
  const { head } = JSON.parse(readFileSync(file, 'utf8')) as { head: SampledNode };
  const byPackage = new Map<string, number>();
  const byFunction = new Map<string, number>();
  let total = 0;
  const visit = (node: SampledNode) => {
    const { functionName, url, lineNumber } = node.callFrame;
    total += node.selfSize;
    byPackage.set(packageOf(url), (byPackage.get(packageOf(url)) ?? 0) + node.selfSize);
    const where = `${functionName || '(anonymous)'} ${url.replace(/.*node_modules\//, '').replace(/.*\/(libs|apps|tools)\//, '$1/')}:${lineNumber + 1}`;
    byFunction.set(where, (byFunction.get(where) ?? 0) + node.selfSize);
    node.children.forEach(visit);
  };
  visit(head);
  const requests = total / (kbPerRequest * 1024);
  const rows = (m: Map<string, number>, n: number) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([name, bytes]) => `| ${name} | ${(bytes / requests / 1024).toFixed(2)} |`)
      .join('\n');
  return [
    `${(total / 1024 / 1024).toFixed(0)} MB sampled ≈ ${requests.toFixed(0)} requests at ${kbPerRequest} KB each`,
    '',
    '| allocated by | KB/request |\n|---|---|',
    rows(byPackage, 14),
    '',
    '| function | KB/request |\n|---|---|',
    rows(byFunction, top),
  ].join('\n');
}
