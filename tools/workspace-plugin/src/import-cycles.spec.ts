import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { importCycles } from './import-cycles.js';
import { REPO_ROOT } from './workspace.js';

describe('imports between files', () => {
  it('run in no loop anywhere in apps, libs, tools and loadtests', () => {
    assert.deepEqual(importCycles(REPO_ROOT), []);
  });

  it('a loop is found, through type and dynamic imports too', () => {
    const repo = mkdtempSync(join(tmpdir(), 'strata-cycles-'));
    mkdirSync(join(repo, 'libs', 'a', 'src'), { recursive: true });
    const file = (name: string, text: string) => writeFileSync(join(repo, 'libs', 'a', 'src', name), text);
    file('report.ts', "import { chart } from './chart.js';\n");
    file('chart.ts', "import type { Report } from './report.js';\n");
    file('tracing.ts', "export const sdk = () => import('./sdk.js');\n");
    file('sdk.ts', "import type { T } from './tracing.js';\nimport { x } from './leaf.js';\n");
    file('leaf.ts', 'export const x = 1;\n');
    assert.deepEqual(
      importCycles(repo)
        .map((c) => c.sort().join(' '))
        .sort(),
      ['libs/a/src/chart.ts libs/a/src/report.ts', 'libs/a/src/sdk.ts libs/a/src/tracing.ts'],
    );
  });
});
