import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs, type ParseArgsConfig } from 'node:util';

/** An option of node:util's parseArgs, and the line `--help` prints for it. */
export type CommandOption = NonNullable<ParseArgsConfig['options']>[string] & { description?: string };

export interface CommandLineConfig {
  options: Record<string, CommandOption>;
  allowPositionals?: boolean;
}

/**
 * The header comment of an entry point (the `//` lines after its shebang, where each command says how it is used), as
 * plain text: what `--help` prints first.
 */
export function usageOf(entryUrl: string): string {
  const lines = readFileSync(fileURLToPath(entryUrl), 'utf8').split('\n');
  const header: string[] = [];
  for (const line of lines.slice(lines[0]?.startsWith('#!') ? 1 : 0)) {
    if (!line.startsWith('//')) break;
    header.push(line.replace(/^\/\/ ?/, ''));
  }
  return header.join('\n');
}

/** The option every command gets: what parseArgs is given, and what the help lists. */
const HELP = { type: 'boolean', short: 'h', description: 'print this help and exit' } as const satisfies CommandOption;

/** The options, one line each: `  --name <value>  description (default: x)`. */
export function optionsHelp(options: Record<string, CommandOption>): string {
  const all: Record<string, CommandOption> = { ...options, help: HELP };
  const rows = Object.entries(all).map(([name, o]) => {
    const flag = `${o.short ? `-${o.short}, ` : ''}--${name}${o.type === 'string' ? ' <value>' : ''}`;
    const shown = o.default === undefined || o.default === false ? '' : ` (default: ${String(o.default)})`;
    return [flag, `${o.description ?? ''}${shown}`.trim()] as const;
  });
  const width = Math.max(...rows.map(([flag]) => flag.length));
  return ['options:', ...rows.map(([flag, text]) => `  ${flag.padEnd(width)}  ${text}`.trimEnd())].join('\n');
}

/**
 * node:util's parseArgs, strict, for a command's entry point: `--help` (`-h`) prints the entry point's header comment
 * and its options, and exits 0; an unknown option or a missing value prints the message and the usage, and exits 2 —
 * a person reads what went wrong and how the command is used, instead of a stack trace.
 */
export function parseCommandLine<const T extends CommandLineConfig>(
  entryUrl: string,
  config: T,
): ReturnType<typeof parseArgs<{ options: T['options']; allowPositionals: T['allowPositionals']; strict: true }>> {
  const options = Object.fromEntries(
    Object.entries({ ...config.options, help: HELP }).map(([name, { description: _, ...option }]) => [name, option]),
  );
  const usage = () => `${usageOf(entryUrl)}\n\n${optionsHelp(config.options)}`;
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      options,
      allowPositionals: config.allowPositionals ?? false,
      strict: true,
    });
  } catch (error) {
    console.error(`error: ${(error as Error).message}\n\n${usage()}`);
    process.exit(2);
  }
  if (parsed.values.help) {
    console.log(usage());
    process.exit(0);
  }
  delete parsed.values.help;
  return parsed as never;
}
