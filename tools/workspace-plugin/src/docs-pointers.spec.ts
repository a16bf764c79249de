import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { brokenPointers, missingPaths, pointerFiles, pointersIn, sectionsOf } from './docs-pointers.js';
import { REPO_ROOT } from './workspace.js';

describe('pointers into docs/', () => {
  it('every one in the tree resolves: the document exists, and has each section named by number or title', () => {
    const files = pointerFiles(REPO_ROOT);
    assert.ok(files.length > 100 && files.includes('libs/service-kit/src/grpc-server.ts'), 'the tree was read');
    assert.deepEqual(brokenPointers(REPO_ROOT), []);
  });

  it('every path a README or document names exists (a file moved is a README to mend)', () => {
    assert.deepEqual(missingPaths(REPO_ROOT), []);
    const repo = mkdtempSync(join(tmpdir(), 'strata-paths-'));
    mkdirSync(join(repo, 'apps', 'a', 'src', 'domain'), { recursive: true });
    writeFileSync(join(repo, 'apps', 'a', 'src', 'domain', 'model.ts'), '');
    writeFileSync(join(repo, 'README.md'), '`apps/a/src/domain/model.ts` `apps/<service>/src` `apps/a/src/model.ts`\n');
    assert.deepEqual(missingPaths(repo), ['README.md:1: apps/a/src/model.ts does not exist']);
  });

  it('reads every form in use, and a broken one is reported', () => {
    const p = pointersIn(
      'x.ts',
      [
        '(docs/architecture.md, §17 "Save and roll")',
        'docs/architecture.md §18), load',
        '(docs/performance.md, "Nest on the call path")',
        '[docs/architecture.md](../../docs/architecture.md) (9 and 17)',
        'see [architecture](docs/architecture.md), 19',
      ].join('\n'),
    );
    assert.deepEqual(
      p.map((x) => [x.doc, x.numbers, x.titles]),
      [
        ['docs/architecture.md', [17], ['Save and roll']],
        ['docs/architecture.md', [18], []],
        ['docs/performance.md', [], ['Nest on the call path']],
        ['docs/architecture.md', [9, 17], []],
        ['docs/architecture.md', [19], []],
      ],
    );
    assert.deepEqual(
      [...sectionsOf('# t\n## 1. One\n## 2. Two: more\n').entries()],
      [
        [1, 'One'],
        [2, 'Two: more'],
      ],
    );
  });
});
