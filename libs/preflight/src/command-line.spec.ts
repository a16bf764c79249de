import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { optionsHelp, usageOf } from './command-line.js';

const dir = mkdtempSync(join(tmpdir(), 'strata-command-line-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** An entry point as the commands write theirs: a shebang, the header comment, then parseCommandLine. */
const entry = join(dir, 'entry.mjs');
writeFileSync(
  entry,
  [
    '#!/usr/bin/env node',
    '// npm run thing -- --name NAME: does the thing.',
    '//   npm run thing -- --name a --fast',
    `import { parseCommandLine } from ${JSON.stringify(pathToFileURL(join(import.meta.dirname, 'command-line.js')).href)};`,
    '// (not part of the header)',
    'const { values, positionals } = parseCommandLine(import.meta.url, {',
    '  allowPositionals: true,',
    "  options: { name: { type: 'string', default: 'x', description: 'who' }, fast: { type: 'boolean', default: false } },",
    '});',
    'console.log(JSON.stringify({ values, positionals }));',
  ].join('\n'),
);
const run = (...args: string[]) => spawnSync(process.execPath, [entry, ...args], { encoding: 'utf8' });

describe('parseCommandLine: the entry points of the commands', () => {
  it('usageOf: the comment lines after the shebang, up to the first line of code', () => {
    assert.equal(usageOf(pathToFileURL(entry).href), 'npm run thing -- --name NAME: does the thing.\n  npm run thing -- --name a --fast');
  });

  it('optionsHelp: one line per option with its value, description and default, and --help', () => {
    const text = optionsHelp({ name: { type: 'string', default: 'x', description: 'who' }, fast: { type: 'boolean', default: false } });
    assert.deepEqual(text.split('\n'), [
      'options:',
      '  --name <value>  who (default: x)',
      '  --fast',
      '  -h, --help      print this help and exit',
    ]);
  });

  it('parses what it is given, with defaults, and leaves --help out of the values', () => {
    const ok = run('--fast', 'extra');
    assert.equal(ok.status, 0, ok.stderr);
    assert.deepEqual(JSON.parse(ok.stdout), { values: { name: 'x', fast: true }, positionals: ['extra'] });
  });

  it('--help and -h print the usage and the options, and exit 0', () => {
    for (const flag of ['--help', '-h']) {
      const help = run(flag);
      assert.equal(help.status, 0, flag);
      assert.match(help.stdout, /^npm run thing -- --name NAME: does the thing\.\n/);
      assert.match(help.stdout, /\n {2}--name <value> {2}who \(default: x\)\n/);
      assert.doesNotMatch(help.stdout, /not part of the header|values/);
    }
  });

  it('an unknown option or a missing value: the message and the usage on stderr, exit 2, no stack trace', () => {
    for (const [args, message] of [
      [['--bogus'], /Unknown option '--bogus'/],
      [['--name'], /--name <value>' argument missing/],
    ] as const) {
      const bad = run(...args);
      assert.equal(bad.status, 2, args.join(' '));
      assert.equal(bad.stdout, '');
      assert.match(bad.stderr, message);
      assert.match(bad.stderr, /options:\n {2}--name <value>/);
      assert.doesNotMatch(bad.stderr, /\n\s+at /, 'no stack trace');
    }
  });
});
