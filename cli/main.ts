/**
 * The `ablo` CLI entry. `bin/ablo.js` calls `main(process.argv)` and uses the
 * returned number as the exit code; nothing in the CLI calls `process.exit`.
 *
 * Exit codes: 0 success, 1 failure, 2 bad usage.
 */
import type { CommanderError } from 'commander';
import { processIO, type CliIO } from './context.js';
import { isCliOnlyErrorCode, type CliOnlyErrorCode } from './errorCodes.js';
import { EXIT_OK, EXIT_USAGE, UsageError, formatFailure } from './errors.js';
import { packageVersion } from './version.js';

/** Global flags as typed, read straight from argv (also valid when parsing failed half way). */
function globalsFromArgv(args: string[], env: Record<string, string | undefined>): { json: boolean; debug: boolean } {
  const end = args.indexOf('--');
  const flags = end === -1 ? args : args.slice(0, end);
  return {
    json: flags.includes('--json'),
    debug: flags.includes('--debug') || env.ABLO_DEBUG === '1' || env.ABLO_DEBUG === 'true',
  };
}

/** Commander's parse error codes keep their names (`commander.unknownOption` → `unknownOption`, registered in cli/errorCodes.ts). */
function commanderCode(code: string): CliOnlyErrorCode {
  const name = code.replace(/^commander\./, '');
  return isCliOnlyErrorCode(name) ? name : 'bad_usage';
}

/** Turn a commander parse error into a usage error with a pointer to the right `--help`. */
function usageErrorFrom(err: CommanderError, args: string[], knownCommands: Set<string>): UsageError {
  const message = err.message.replace(/^error:\s*/i, '');
  const first = args.find((a) => !a.startsWith('-'));
  // An unknown subcommand of a known command (`ablo keys nope`) points at that command's help.
  const unknownName = err.code === 'commander.unknownCommand' ? /'([^']+)'/.exec(err.message)?.[1] : undefined;
  const where = first && knownCommands.has(first) && unknownName !== first ? `ablo ${first}` : 'ablo';
  return new UsageError(message, {
    code: commanderCode(err.code),
    fix: `Run "${where} --help" to see the usage and examples.`,
  });
}

export async function main(argv: string[] = process.argv, io: CliIO = processIO()): Promise<number> {
  const args = argv.slice(2);
  // Fast path: `ablo --version` without loading commander (~15 ms of startup).
  if (args.length === 1 && (args[0] === '--version' || args[0] === '-v')) {
    io.stdout(`${packageVersion()}\n`);
    return EXIT_OK;
  }
  const { buildProgram, CommanderError } = await import('./program.js');
  const state = { io, exitCode: EXIT_OK };
  const program = buildProgram(state);
  try {
    await program.parseAsync(argv, { from: 'node' });
    return state.exitCode;
  } catch (err) {
    const globals = globalsFromArgv(args, io.env);
    let failure: unknown = err;
    if (err instanceof CommanderError) {
      if (err.code === 'commander.version' || err.code === 'commander.helpDisplayed') return EXIT_OK;
      // `ablo help` exits 0; `ablo` with no command prints help to stderr: bad usage.
      if (err.code === 'commander.help') return err.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
      const known = new Set(program.commands.flatMap((c) => [c.name(), ...c.aliases()]));
      failure = usageErrorFrom(err as CommanderError, args, known);
    }
    const out = formatFailure(failure, globals);
    if (out.stdout) io.stdout(out.stdout);
    if (out.stderr) io.stderr(out.stderr);
    return out.exitCode;
  }
}
