import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

/** The TypeScript sources of the tree (not tests' fixtures, build output or generated code), relative to the root. */
function sources(repoRoot: string): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (!['node_modules', 'dist', '.nx'].includes(entry.name)) walk(path);
      } else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) out.push(path);
    }
  };
  for (const root of ['apps', 'libs', 'tools', 'loadtests']) if (existsSync(join(repoRoot, root))) walk(join(repoRoot, root));
  return out.filter((f) => !relative(repoRoot, f).startsWith('libs/contracts/src/'));
}

/**
 * Files that import each other in a loop, through relative imports (`import`, `import type`, `export … from`, a
 * dynamic `import()`): each cycle once, as the list of its files. A loop makes two files one module in all but name.
 */
export function importCycles(repoRoot: string): string[][] {
  const files = sources(repoRoot);
  const edges = new Map<string, string[]>();
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    const targets = [...text.matchAll(/(?:from\s+|import\s*\(\s*)['"](\.{1,2}\/[^'"]+)['"]/g)]
      .map((m) => resolve(dirname(file), m[1]!.replace(/\.js$/, '.ts')))
      .filter((t) => files.includes(t));
    edges.set(file, [...new Set(targets)]);
  }
  const cycles = new Map<string, string[]>();
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (file: string) => {
    state.set(file, 'open');
    stack.push(file);
    for (const next of edges.get(file) ?? []) {
      if (state.get(next) === 'open') {
        const cycle = stack.slice(stack.indexOf(next)).map((f) => relative(repoRoot, f));
        cycles.set([...cycle].sort().join(' '), cycle);
      } else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(file, 'done');
  };
  for (const file of files) if (!state.has(file)) visit(file);
  return [...cycles.values()];
}
