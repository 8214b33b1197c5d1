/**
 * The `ablo` command tree: names, descriptions, options and help examples.
 *
 * Implementations are NOT imported here. Each command's action dynamically
 * imports `./commands/<name>.js` when it runs, so `ablo --version` and
 * `ablo --help` load commander and nothing else (no zod, no jiti, no ink).
 *
 * To add a command:
 *   1. write `cli/commands/<name>.ts` exporting
 *      `run(opts, ctx: CliContext, args: unknown[]): Promise<number | void>`
 *      (keep the logic in plain exported functions that tests can call);
 *   2. register it below with `.action(lazy(() => import('./commands/<name>.js')))`
 *      and `.addHelpText('after', examples(...))`.
 */
import { Command } from 'commander';

export { CommanderError } from 'commander';
import { createContext, type CliContext, type CliIO } from './context.js';
import { packageVersion } from './version.js';

export interface CommandModule {
  run(opts: Record<string, unknown>, ctx: CliContext, args: unknown[]): Promise<number | void>;
}

export interface RunState {
  io: CliIO;
  /** Exit code set by the action that ran. */
  exitCode: number;
}

/** Help text block listing examples: `[command line, what it does]`. */
export function examples(...items: Array<[string, string?]>): string {
  const width = Math.max(...items.map(([cmd]) => cmd.length));
  const lines = items.map(([cmd, what]) => (what ? `  $ ${cmd.padEnd(width)}   # ${what}` : `  $ ${cmd}`));
  return `\nExamples:\n${lines.join('\n')}\n`;
}

/** `--debug` from the flag or ABLO_DEBUG=1. */
function debugOn(flag: unknown, env: Record<string, string | undefined>): boolean {
  return flag === true || env.ABLO_DEBUG === '1' || env.ABLO_DEBUG === 'true';
}

function lazy(state: RunState, load: () => Promise<unknown>) {
  return async (...actionArgs: unknown[]): Promise<void> => {
    const cmd = actionArgs[actionArgs.length - 1] as Command;
    const globals = cmd.optsWithGlobals() as { json?: boolean; debug?: boolean };
    const ctx = createContext(state.io, { json: globals.json === true, debug: debugOn(globals.debug, state.io.env) });
    const mod = (await load()) as CommandModule;
    const code = await mod.run(cmd.opts(), ctx, actionArgs.slice(0, -2));
    state.exitCode = typeof code === 'number' ? code : 0;
  };
}

export function buildProgram(state: RunState): Command {
  const program = new Command('ablo');

  // Settings that subcommands inherit must come before `.command()`.
  program
    .exitOverride()
    .configureOutput({
      writeOut: (text) => state.io.stdout(text),
      writeErr: (text) => state.io.stderr(text),
      // Usage errors are printed by main() in the shared error format.
      outputError: () => {},
    })
    .configureHelp({ showGlobalOptions: true, sortSubcommands: false })
    .showSuggestionAfterError(true)
    .helpCommand('help [command]', 'show help for a command');

  program
    .description('Typed data that people and AI agents edit together.')
    .version(packageVersion(), '-v, --version', 'print the ablo version')
    .helpOption('-h, --help', 'show help')
    .option('--json', 'machine-readable output: one JSON document on stdout (errors too)')
    .option('--debug', 'show stack traces and internal detail on errors (also ABLO_DEBUG=1)')
    .addHelpText(
      'after',
      examples(
        ['ablo generate', 'typed client, OpenAPI and JSON Schema into ./ablo-generated'],
        ['ablo generate --help', 'flags and examples for one command'],
      ) +
        '\nExit codes: 0 success, 1 failure, 2 bad usage.' +
        '\nSettings: flags, then ablo.config.json, then defaults. Docs: docs/cli.md\n',
    );

  program
    .command('generate')
    .description('generate a typed client (.ts), an OpenAPI 3.1 document and JSON Schema per model from your schema')
    .option('-s, --schema <file>', 'schema file (default: "schema" in ablo.config.json, else ablo.schema.ts)')
    .option('-o, --out <dir>', 'output directory (default: generate.out in ablo.config.json, else ablo-generated)')
    .option('--openapi', 'write <out>/openapi.json')
    .option('--json-schema', 'write <out>/json-schema/<model>.json ({ row, create, update })')
    .option('--client', 'write <out>/client.ts')
    .addHelpText(
      'after',
      examples(
        ['ablo generate', 'all three kinds into ./ablo-generated'],
        ['ablo generate --client --out src/ablo', 'only the typed client, into src/ablo/client.ts'],
        ['ablo generate --openapi --json-schema', 'only the API documents'],
        ['ablo generate --schema schema/ablo.ts', 'a schema file somewhere else'],
        ['ablo generate --json', 'print { files, schemaHash } for scripts'],
      ) + '\nWith none of --openapi, --json-schema, --client, all three are written.\n',
    )
    .action(lazy(state, () => import('./commands/generate.js')));

  return program;
}
