#!/usr/bin/env node
// strata-preflight — the checks of @strata/preflight for npm scripts and shell scripts: exit 1 with one line when the
// prerequisite is missing, 0 (silent) when it is there.
//   strata-preflight docker '<why the command needs it and what to do>'
//   strata-preflight command <name> '<how to get it>'
//   strata-preflight answer <url> '<how to get it running>'
import { exitOnMissingPrerequisite, requireAnswer, requireCommand, requireDocker } from './preflight.js';

exitOnMissingPrerequisite();
const [check, ...args] = process.argv.slice(2);
if (check === 'docker' && args.length === 1) requireDocker(args[0]!);
else if (check === 'command' && args.length === 2) requireCommand(args[0]!, args[1]!);
else if (check === 'answer' && args.length === 2) await requireAnswer(args[0]!, args[1]!);
else {
  console.error("usage: strata-preflight docker '<purpose>' | command <name> '<how>' | answer <url> '<hint>'");
  process.exit(2);
}
