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

export type CommandRun = (opts: Record<string, unknown>, ctx: CliContext, args: unknown[]) => Promise<number | void>;

export interface CommandModule {
  run: CommandRun;
  [name: string]: unknown;
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

/** An action that imports the command module when it runs and calls its `run` (or the named export). */
function lazy(state: RunState, load: () => Promise<unknown>, exportName = 'run') {
  return async (...actionArgs: unknown[]): Promise<void> => {
    const cmd = actionArgs[actionArgs.length - 1] as Command;
    const globals = cmd.optsWithGlobals() as { json?: boolean; debug?: boolean };
    const ctx = createContext(state.io, { json: globals.json === true, debug: debugOn(globals.debug, state.io.env) });
    const mod = (await load()) as CommandModule;
    const fn = mod[exportName] as CommandRun;
    const code = await fn(cmd.opts(), ctx, actionArgs.slice(0, -2));
    state.exitCode = typeof code === 'number' ? code : 0;
  };
}

/** `--url` / `--api-key` for commands that talk to the engine. */
function engineOptions(cmd: Command): Command {
  return cmd
    .option('--url <url>', 'engine URL (default: ABLO_URL, .env.local, .env, "url" in ablo.config.json, else http://127.0.0.1:4100)')
    .option('--api-key <key>', 'API key (default: ABLO_API_KEY, .env.local, .env)');
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
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
        ['ablo init', 'scaffold ablo.schema.ts, .env.local, an example agent'],
        ['ablo dev', 'local engine on http://127.0.0.1:4100; pushes the schema on save'],
        ['ablo push', 'apply schema changes to the engine (asks before data loss)'],
        ['ablo generate', 'typed client, OpenAPI and JSON Schema into ./ablo-generated'],
        ['ablo push --help', 'flags and examples for one command'],
      ) +
        '\nExit codes: 0 success, 1 failure, 2 bad usage.' +
        '\nSettings: flags, then ABLO_URL / ABLO_API_KEY, .env.local, .env, then ablo.config.json, then defaults. Docs: docs/cli.md\n',
    );

  program
    .command('init')
    .description('scaffold ablo into this project: ablo.schema.ts, ablo.config.json, .env.local, agent.ts, package.json scripts')
    .option('-t, --template <name>', 'basic (projects and tasks) or agents (a task board an agent works through with claims)')
    .option('-y, --yes', 'do not ask: the basic template unless --template is given; existing files are still never overwritten')
    .addHelpText(
      'after',
      examples(
        ['ablo init', 'asks for a template on a terminal'],
        ['ablo init --template agents', 'the task board with a claiming agent'],
        ['ablo init --yes --json', 'no questions; print what was written'],
      ) + '\nExisting files are kept (on a terminal you are asked). Running it again changes nothing.\n',
    )
    .action(lazy(state, () => import('./commands/init.js')));

  program
    .command('dev')
    .description('run the local engine (SQLite file, HTTP + WebSocket) and push the schema on start and on every save')
    .option('-p, --port <port>', 'port to listen on, 0 for any free one (default: dev.port in ablo.config.json, else 4100)')
    .option('--db <file>', 'SQLite file (default: dev.db in ablo.config.json, else .ablo/dev.db)')
    .option('--database-url <url>', 'run on Postgres at this connection string instead of the SQLite file (default: ABLO_DATABASE_URL, .env.local, .env, "databaseUrl" in ablo.config.json)')
    .option('-s, --schema <file>', 'schema file (default: "schema" in ablo.config.json, else ablo.schema.ts)')
    .option('--no-watch', 'push the schema on start only, not on every save')
    .addHelpText(
      'after',
      examples(
        ['ablo dev', 'engine on http://127.0.0.1:4100, data in .ablo/dev.db'],
        ['ablo dev --port 0', 'any free port (written to ABLO_URL in .env.local)'],
        ['ablo dev --db /tmp/scratch.db', 'a throwaway database'],
        ['ablo dev --json', 'one JSON line per event (ready, schema, commit, connect, ...)'],
      ) +
        '\nA live view on a terminal, plain lines otherwise. Unsafe schema changes are asked about on a terminal' +
        '\nand otherwise not applied (use `ablo push --allow-destructive`). Ctrl-C stops it.\n',
    )
    .action(lazy(state, () => import('./commands/dev.js')));

  program
    .command('start')
    .description('run a production engine: Postgres (--database-url) or one SQLite file (--file); JSON logs; SIGTERM drains')
    .option('--database-url <url>', 'Postgres connection string (default: ABLO_DATABASE_URL)')
    .option('--file <path>', 'a SQLite file instead (one engine process only)')
    .option('-p, --port <port>', 'port to listen on, 0 for any free one (default: PORT, else 4100)')
    .option('--host <host>', 'interface to listen on (default 0.0.0.0: every interface, for a load balancer)')
    .option('--drain-timeout <seconds>', 'on SIGTERM/SIGINT, exit 1 if the drain takes longer (default 10)')
    .option('--cors-origin <origin>', 'a browser origin allowed to call the engine: https://app.example.com, http://localhost:* or * (repeatable; default: cors.origins in ablo.config.json, else none)', collect)
    .addHelpText(
      'after',
      examples(
        ['ablo start --database-url "$DATABASE_URL" --port 4100', 'one of several engines on one Postgres'],
        ['ablo start --file /var/lib/ablo/ablo.db', 'a single engine on a SQLite file'],
        ['ablo start --file ./ablo.db --host 127.0.0.1 --port 0', 'loopback only, any free port'],
        ['ablo start --database-url "$DATABASE_URL" --cors-origin https://app.example.com', 'a browser app on that origin may call it'],
      ) +
        '\nServes the schema the database holds (change it with `ablo push --url ...`); makes no key (`ablo keys create --live`).' +
        '\nLogs: one JSON object per line on stdout. GET /v1/health (live) and /v1/ready (ready; 503 while draining).' +
        '\nSIGTERM/SIGINT: drain (queued commits land, sockets told to reconnect elsewhere), exit 0; a second signal exits 1.\n',
    )
    .action(lazy(state, () => import('./commands/start.js')));

  engineOptions(
    program
      .command('push')
      .description('diff the local schema against the engine, show the plan, and apply it (asks before destructive changes)')
      .option('-s, --schema <file>', 'schema file (default: "schema" in ablo.config.json, else ablo.schema.ts)')
      .option('--dry-run', 'show the plan only')
      .option('--allow-destructive', 'apply destructive and needs-data changes without asking')
      .option('--rename <old=new>', 'a rename, so data survives: tasks.title=tasks.name or todos=tasks (repeatable)', collect)
      .option('-y, --yes', 'do not ask; confirms destructive changes too, except when a coding agent runs the command'),
  )
    .addHelpText(
      'after',
      examples(
        ['ablo push', 'show the plan, apply it; asks before data loss'],
        ['ablo push --dry-run', 'the plan only'],
        ['ablo push --rename tasks.title=tasks.name', 'a rename instead of drop + add'],
        ['ablo push --allow-destructive', 'apply a plan that drops data (CI, scripts, agents)'],
        ['ablo push --url http://127.0.0.1:4200', 'another engine'],
      ) +
        '\nOff a terminal, destructive / needs-data plans exit 1 unless --allow-destructive.' +
        '\nWhen a coding agent is detected (CLAUDECODE, CURSOR_AGENT, GEMINI_CLI, CODEX_SANDBOX, ...), --yes is not enough.\n',
    )
    .action(lazy(state, () => import('./commands/push.js')));

  engineOptions(
    program
      .command('diff')
      .description('show the plan `ablo push` would apply; exit 1 when the schema differs (for CI)')
      .option('-s, --schema <file>', 'schema file (default: "schema" in ablo.config.json, else ablo.schema.ts)')
      .option('--rename <old=new>', 'plan with this rename (repeatable)', collect),
  )
    .addHelpText(
      'after',
      examples(
        ['ablo diff', 'exit 0: in sync; exit 1: differences (listed)'],
        ['ablo diff --json', '{ differences, safe, plan }'],
      ),
    )
    .action(lazy(state, () => import('./commands/diff.js')));

  engineOptions(
    program
      .command('pull')
      .description("the engine's schema: JSON, or an ablo.schema.ts that defines the same schema")
      .option('-o, --out <file>', 'write to this file (default: stdout)')
      .option('-f, --format <format>', 'json or ts (default: from the --out extension, else json)')
      .option('-y, --yes', 'replace an existing --out file without asking'),
  )
    .addHelpText(
      'after',
      examples(
        ['ablo pull', 'the serialized schema as JSON on stdout'],
        ['ablo pull --out engine.schema.ts', 'as DSL source (same hash when loaded)'],
        ['ablo pull --out schema.json', 'as JSON (usable with --schema schema.json)'],
      ),
    )
    .action(lazy(state, () => import('./commands/pull.js')));

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

  engineOptions(
    program
      .command('mcp')
      .description("serve the engine's models as MCP tools over stdio, for coding agents (stdout carries only the protocol)")
      .option('--dir <path>', 'the project: read .env.local, .env and ablo.config.json there (default: the current directory)')
      .option('--read-only', 'register no write tools (no create, update, delete, claim, release, commit)')
      .option('--models <names>', 'only these models, comma-separated (an unknown name is an error)')
      .option('--disable-tools <names>', 'leave these tools out, comma-separated, e.g. tasks_delete,ablo_commit')
      .option('--token-budget <tokens>', 'largest tool output in estimated tokens; lists page beyond it (default 20000)')
      .option('--claim-patience <seconds>', 'longest one <model>_claim call waits before answering "waiting" with a ticket that keeps its place (default 50, at most 240)')
      .option('--participant <kind:id>', 'act as this participant, e.g. agent:claude: with a secret key, mints a scoped session for it and refreshes it (default agent:mcp, unscoped)')
      .option('--session-token <token>', 'a session token ek_… instead of an API key (default: ABLO_SESSION_TOKEN)')
      .option('--ops <ops>', 'operations of the session minted for --participant (default read,write,claim)')
      .option('--groups <patterns>', 'sync groups of the session minted for --participant, e.g. "board:*" (default *: every group)')
      .option('--session-ttl <seconds>', 'lifetime of each session minted for --participant (default 900; refreshed at 80%)'),
  )
    .addHelpText(
      'after',
      examples(
        ['ablo mcp install claude', 'register it with Claude Code (.mcp.json); also cursor, vscode, codex, windsurf'],
        ['claude mcp add ablo-sync -- npx ablo mcp', 'or with Claude Code\'s own command'],
        ['ablo mcp --read-only', 'list/get/schema tools only'],
        ['ablo mcp --models tasks --disable-tools tasks_delete', 'fewer tools'],
        ['ablo mcp --url http://127.0.0.1:4200 --api-key sk_test_...', 'another engine'],
        ['ablo mcp --participant agent:claude --groups "board:*"', 'a secret key acts through a scoped session for agent:claude'],
        ['ABLO_SESSION_TOKEN=ek_... ablo mcp', "a session token: only the tools and rows it allows"],
      ) + '\nLogs go to stderr. The session\'s claims are released when stdin closes. Docs: docs/mcp.md\n',
    )
    .action(lazy(state, () => import('./commands/mcp.js')));
  const mcp = program.commands.find((c) => c.name() === 'mcp')!;
  mcp
    .command('install')
    .argument('[client]', 'claude, cursor, windsurf, vscode or codex')
    .description("add the ablo-sync server (npx ablo mcp) to an MCP client's config: project scope where the client has one; the key stays in .env.local")
    .option('--print', 'only show the entry and the file it goes to; write nothing')
    .addHelpText(
      'after',
      examples(
        ['ablo mcp install claude', '.mcp.json in the project'],
        ['ablo mcp install cursor', '.cursor/mcp.json'],
        ['ablo mcp install vscode', '.vscode/mcp.json'],
        ['ablo mcp install codex', '.codex/config.toml (Codex reads it only in trusted projects)'],
        ['ablo mcp install windsurf', '~/.codeium/windsurf/mcp_config.json (user scope)'],
        ['ablo mcp install cursor --print', 'show it; write nothing'],
      ) + '\nRunning it again changes nothing. Other servers in the file are kept. Docs: docs/mcp.md\n',
    )
    .action(lazy(state, () => import('./commands/mcpInstall.js'), 'install'));
  mcp
    .command('uninstall')
    .argument('[client]', 'claude, cursor, windsurf, vscode or codex')
    .description("remove the ablo-sync server from an MCP client's config (only that entry)")
    .option('--print', 'only show the file without the entry; write nothing')
    .addHelpText('after', examples(['ablo mcp uninstall cursor']))
    .action(lazy(state, () => import('./commands/mcpInstall.js'), 'uninstall'));

  const keys = program
    .command('keys')
    .description('API keys of the engine: create, list, revoke')
    .addHelpText(
      'after',
      examples(
        ['ablo keys create --name ci', 'a new key, shown once'],
        ['ablo keys list', 'every key, with its status'],
        ['ablo keys revoke key_01J...', 'requests with it now get 401'],
      ),
    );
  engineOptions(
    keys
      .command('create')
      .description('create an API key; it is shown once')
      .option('-n, --name <name>', 'a name to recognise it by (default "default")')
      .option('--live', 'a live key (sk_live_ / rk_live_) instead of a test key')
      .option('--restricted', 'a restricted key rk_…: only --groups, only --ops')
      .option('--groups <patterns>', "restricted: sync groups, comma-separated: exact, prefix* ('board:*') or @role")
      .option('--ops <operations>', 'restricted: operations, comma-separated: read, create, update, delete, write, claim, presence, keys, schema')
      .option('--participant <kind:id>', 'restricted: who it acts as (default: system:<key id>)')
      .option('--database-url <url>', 'write it straight into this Postgres database (no engine needed)')
      .option('--file <path>', 'write it straight into this SQLite file (no engine may have it open)'),
  )
    .addHelpText(
      'after',
      examples(
        ['ablo keys create --name ci'],
        ["ablo keys create --restricted --groups 'board:*' --ops read,write,claim --participant agent:indexer", 'a job that sees only boards'],
        ['ablo keys create --live --database-url "$DATABASE_URL"', 'the first key of a production database'],
        ['ablo keys create --json', '{ id, name, prefix, key, createdAt }'],
      ),
    )
    .action(lazy(state, () => import('./commands/keys.js'), 'create'));
  engineOptions(keys.command('list').description('list the API keys (never the keys themselves)'))
    .addHelpText('after', examples(['ablo keys list'], ['ablo keys list --json']))
    .action(lazy(state, () => import('./commands/keys.js'), 'list'));
  engineOptions(keys.command('revoke').argument('<id>', 'key id from `ablo keys list` (or the key itself)').description('revoke an API key'))
    .addHelpText('after', examples(['ablo keys revoke key_01J...'], ['ablo keys revoke "$OLD_KEY"', 'by the key itself']))
    .action(lazy(state, () => import('./commands/keys.js'), 'revoke'));

  engineOptions(
    program
      .command('status')
      .description('engine health: URL, version, schema version and hash, last sync id, connections, whether the key is accepted'),
  )
    .option('-s, --schema <file>', 'schema file to compare (default: "schema" in ablo.config.json, else ablo.schema.ts)')
    .addHelpText(
      'after',
      examples(['ablo status'], ['ablo status --json', 'for scripts'], ['ablo status --url http://127.0.0.1:4200']) +
        '\nExit 1 when the engine cannot be reached or refuses the API key.\n',
    )
    .action(lazy(state, () => import('./commands/status.js')));

  engineOptions(
    program
      .command('log')
      .description('who changed what, when: the change log with its operation, writer, on-behalf-of participant and credential (oldest first)'),
  )
    .option('-m, --model <model>', 'only changes of this model')
    .option('--id <id>', 'only changes of this row id (of --model when given, else of any model)')
    .option('-p, --participant <kind:id>', 'only changes this participant wrote or that were written on its behalf')
    .option('--after <syncId>', 'only changes after this sync id (default 0)')
    .option('-n, --limit <n>', 'at most this many changes (default 100)')
    .addHelpText(
      'after',
      examples(
        ['ablo log', 'the first 100 changes'],
        ['ablo log --model tasks --id task_01J...', 'the history of one row'],
        ['ablo log --participant user:ana', 'what ana wrote, or a key wrote for her'],
        ['ablo log --after 1200 --limit 50 --json', 'JSON lines, for scripts'],
      ),
    )
    .action(lazy(state, () => import('./commands/log.js')));

  const source = program
    .command('source')
    .description('Data Sources: models whose system of record is your app\'s own endpoint (add, list, test, rotate-secret)')
    .addHelpText(
      'after',
      examples(
        ['ablo source add app --url http://127.0.0.1:3000/api/ablo --models tasks', 'config entry + a whsec_ secret in .env.local'],
        ['ablo source list', 'each source, its models, whether its secret is set'],
        ['ablo source test', 'signed requests to each source, with a diagnosis'],
        ['ablo source rotate-secret app', 'a new secret; the old one kept until --finish'],
      ) + '\nDocs: docs/data-source.md\n',
    );
  source
    .command('add')
    .argument('<name>', 'the source\'s name: lowercase letters, digits, - and _ (e.g. app)')
    .description('add a Data Source to ablo.config.json and its signing secret to .env.local')
    .option('--url <url>', "the app's endpoint the engine sends signed requests to")
    .option('--connector', 'no URL: the app dials in to the engine (createSourceConnector, the reverse channel)')
    .option('--models <names>', 'the models this source holds, comma-separated')
    .option('--env <name>', 'environment variable of the signing secret (default ABLO_SOURCE_<NAME>_SECRET)')
    .addHelpText(
      'after',
      examples(
        ['ablo source add app --url https://app.example.com/api/ablo --models tasks,projects'],
        ['ablo source add intranet --connector --models tickets', 'a source inside a private network'],
        ['ablo source add app --url http://127.0.0.1:3000/api/ablo --models tasks --env APP_ABLO_SECRET'],
      ) + '\nThe secret goes to .env.local (mode 0600, git-ignored), never to ablo.config.json; an existing one is kept.\n',
    )
    .action(lazy(state, () => import('./commands/source.js'), 'add'));
  source
    .command('list')
    .description('list the Data Sources: url (or reverse channel), models, secret variable and whether it is set')
    .addHelpText('after', examples(['ablo source list'], ['ablo source list --json']))
    .action(lazy(state, () => import('./commands/source.js'), 'list'));
  source
    .command('test')
    .argument('[name]', 'only this source')
    .description("send a signed events request and a signed list request per model to each source's url; exit 1 if any fails")
    .addHelpText(
      'after',
      examples(['ablo source test'], ['ablo source test app --json', '{ ok, sources: [{ name, url, requests: [{ request, model, ok, status, ms, diagnosis }] }] }']) +
        '\nReverse-channel sources are skipped (they dial in to the engine). Exit 1 when any request fails.\n',
    )
    .action(lazy(state, () => import('./commands/source.js'), 'test'));
  source
    .command('rotate-secret')
    .argument('<name>', 'the source')
    .description('a new signing secret in .env.local, before the old one (the engine signs with both); --finish keeps only the newest')
    .option('--finish', 'keep only the newest secret (once the app uses it)')
    .addHelpText('after', examples(['ablo source rotate-secret app', 'new + old'], ['ablo source rotate-secret app --finish', 'new only']))
    .action(lazy(state, () => import('./commands/source.js'), 'rotate'));

  const data = program
    .command('data')
    .description('rows as JSONL (one file per model): export and import, for seeding and backup')
    .addHelpText('after', examples(['ablo data export --out backup'], ['ablo data import backup']));
  engineOptions(
    data
      .command('export')
      .description('write every row of every model (or --models) to <out>/<model>.jsonl')
      .option('-o, --out <dir>', 'output directory (default ablo-data)')
      .option('-m, --models <names>', 'only these models, comma-separated'),
  )
    .addHelpText('after', examples(['ablo data export', 'into ./ablo-data'], ['ablo data export --out seed --models projects,tasks']))
    .action(lazy(state, () => import('./commands/data.js'), 'exportData'));
  engineOptions(
    data
      .command('import')
      .argument('<path>', 'a directory of <model>.jsonl files, or one such file')
      .description('validate every row against the schema, then create them in commits of up to 500')
      .option('-m, --models <names>', 'only these models, comma-separated')
      .option('--allow-deep', 'restore rows whose JSON nests deeper than 64 levels (stored before the limit; up to 2048)'),
  )
    .addHelpText(
      'after',
      examples(['ablo data import ablo-data'], ['ablo data import seed/tasks.jsonl'], ['ablo data import backup --models tasks']) +
        '\nNothing is sent when any row is invalid: the error names the file and line.' +
        '\nid is kept; createdAt, updatedAt and syncId are set by the engine.\n',
    )
    .action(lazy(state, () => import('./commands/data.js'), 'importData'));

  return program;
}
