/**
 * Codes only the CLI produces: code → type → what it means. The exit code
 * follows from the type (2 for `usage_error`, else 1; `UsageError` is always 2).
 *
 * The CLI also uses the library's codes (src/errorCodes.ts), with their types,
 * when it means the same thing (`no_schema`, `unknown_model`, `disk_full`, ...).
 * The two tables never share a code, so every code has one type everywhere
 * (test/errors.registry.test.ts checks it). Commander's parse errors keep their
 * names (`unknownOption`, ...), listed here.
 *
 * This module imports nothing at run time: it is loaded on every run.
 */
import type { AbloErrorType } from '../src/errorCodes.js';

/** Families of CLI-only errors, next to the library's. */
export type CliErrorType = AbloErrorType | 'cli_error' | 'usage_error' | 'config_error' | 'internal_error';

export interface CliErrorCodeSpec {
  readonly type: CliErrorType;
  readonly message: string;
}

export const CLI_ERROR_CODES = {
  // ── the schema file ───────────────────────────────────────────────────────
  schema_not_found: { type: 'schema_error', message: 'The schema file does not exist.' },
  schema_not_a_file: { type: 'schema_error', message: 'The schema path is not a file.' },
  schema_syntax_error: { type: 'schema_error', message: 'The schema file does not compile.' },
  schema_import_not_found: { type: 'schema_error', message: 'The schema file imports a module that is not installed.' },
  schema_load_failed: { type: 'schema_error', message: 'The schema file threw while loading.' },
  schema_not_a_schema: { type: 'schema_error', message: 'The schema file exports something that is not defineSchema(...).' },
  schema_no_export: { type: 'schema_error', message: 'The schema file has no schema export.' },

  // ── settings ──────────────────────────────────────────────────────────────
  config_invalid: { type: 'config_error', message: 'ablo.config.json holds a value of the wrong shape.' },
  config_unreadable: { type: 'config_error', message: 'ablo.config.json cannot be read or parsed.' },
  mcp_client_config_invalid: { type: 'config_error', message: "An MCP client's config file is not in a shape `ablo mcp install` can edit; it was left as it is." },
  env_file_unreadable: { type: 'config_error', message: '.env.local cannot be read.' },
  invalid_dev_key: { type: 'config_error', message: 'ABLO_API_KEY is not a key `ablo dev` can use.' },

  // ── Data Source mode (ablo source, ablo dev) ──────────────────────────────
  source_secret_not_set: { type: 'config_error', message: "A Data Source's signing secret variable is set neither in the environment nor in .env.local." },
  source_secret_invalid: { type: 'config_error', message: "A Data Source's signing secret variable does not hold whsec_ secrets." },
  source_model_not_in_schema: { type: 'schema_error', message: 'A Data Source names a model the schema does not have.' },
  source_name_taken: { type: 'cli_error', message: 'ablo.config.json already has a Data Source of that name.' },
  no_sources_configured: { type: 'config_error', message: 'ablo.config.json has no Data Source.' },

  // ── the engine ────────────────────────────────────────────────────────────
  engine_unreachable: { type: 'connection_error', message: 'Nothing answers at the engine URL.' },
  port_in_use: { type: 'cli_error', message: 'The port `ablo dev` should listen on is taken.' },
  dev_already_running: { type: 'cli_error', message: '`ablo dev` already runs for this project.' },
  engine_start_failed: { type: 'cli_error', message: 'The engine could not open its database.' },

  // ── ablo push ─────────────────────────────────────────────────────────────
  needs_allow_destructive: { type: 'cli_error', message: 'The plan loses data; pass --allow-destructive (or confirm in a terminal).' },
  not_confirmed: { type: 'cli_error', message: 'The plan was not confirmed; nothing was applied.' },
  plan_changed: { type: 'cli_error', message: 'The plan changed since it was shown; nothing was applied.' },

  // ── files and data ────────────────────────────────────────────────────────
  write_failed: { type: 'cli_error', message: 'A file could not be written.' },
  file_exists: { type: 'cli_error', message: 'A file is in the way and was not replaced.' },
  templates_missing: { type: 'cli_error', message: 'The project templates are missing from the installed package.' },
  package_json_invalid: { type: 'cli_error', message: 'package.json is not a JSON object.' },
  no_files: { type: 'cli_error', message: 'The import path holds no .jsonl files.' },
  invalid_row: { type: 'validation_error', message: 'A line of an import file is not a row.' },
  prompt_cancelled: { type: 'cli_error', message: 'A prompt was cancelled (Ctrl-C); nothing was changed.' },

  // ── usage (exit 2) ────────────────────────────────────────────────────────
  bad_usage: { type: 'usage_error', message: 'Bad usage.' },
  invalid_port: { type: 'usage_error', message: '--port is not a whole number from 0 to 65535.' },
  invalid_cors_origin: { type: 'usage_error', message: '--cors-origin is not an origin like https://app.example.com or http://localhost:*.' },
  unknown_mcp_client: { type: 'usage_error', message: '`ablo mcp install` does not know that MCP client.' },
  unknown_template: { type: 'usage_error', message: 'No template has that name.' },
  source_not_configured: { type: 'usage_error', message: 'ablo.config.json has no Data Source of that name.' },
  unknownOption: { type: 'usage_error', message: 'Unknown option.' },
  unknownCommand: { type: 'usage_error', message: 'Unknown command.' },
  missingArgument: { type: 'usage_error', message: 'A required argument is missing.' },
  excessArguments: { type: 'usage_error', message: 'Too many arguments.' },
  invalidArgument: { type: 'usage_error', message: 'An argument or option value is not valid.' },
  optionMissingArgument: { type: 'usage_error', message: 'An option needs a value.' },
  missingMandatoryOptionValue: { type: 'usage_error', message: 'A required option is missing.' },
  conflictingOption: { type: 'usage_error', message: 'Two options conflict.' },

  // ── anything else ─────────────────────────────────────────────────────────
  failed: { type: 'cli_error', message: 'The command failed.' },
  unexpected: { type: 'internal_error', message: 'Unexpected failure (a bug in ablo, or its environment).' },
} as const satisfies Record<string, CliErrorCodeSpec>;

/** Codes only the CLI produces. */
export type CliOnlyErrorCode = keyof typeof CLI_ERROR_CODES;

export function isCliOnlyErrorCode(code: unknown): code is CliOnlyErrorCode {
  return typeof code === 'string' && Object.prototype.hasOwnProperty.call(CLI_ERROR_CODES, code);
}
