/**
 * Error codes live in one registry (src/errorCodes.ts, and cli/errorCodes.ts
 * for the codes only the CLI produces):
 *
 * - every `code:` string literal in src/, cli/ and mcp/ (object properties and
 *   `code` type annotations, found by parsing the sources) is registered, and
 *   the library's sources use only library codes;
 * - the docs' error tables and `"code": "…"` examples name only registered
 *   codes, with the registry's type and status where the table gives them;
 * - every code's status is its type's (`statusForErrorType`), except the
 *   transport-level answers listed below; every code builds its type's class,
 *   keeps type and code through the HTTP envelope and the MCP tool result;
 * - the two registries share no code, and a CLI error's type and exit code
 *   follow from its code.
 *
 * The compiler checks the same at each throw site (a class takes only the
 * codes of its type); this test also covers what the compiler does not see:
 * literals in other positions, the CLI's own table, and the docs.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, test } from 'vitest';
import { CLI_ERROR_CODES } from '../cli/errorCodes.js';
import { CliError, UsageError, cliErrorType, EXIT_FAILURE, EXIT_USAGE } from '../cli/errors.js';
import { errorResult } from '../mcp/errors.js';
import {
  AbloClaimedError,
  AbloConnectionError,
  AbloError,
  abloError,
  AbloIdempotencyError,
  AbloNotFoundError,
  AbloPermissionError,
  AbloRateLimitError,
  AbloSchemaError,
  AbloServerError,
  AbloStaleContextError,
  AbloTooLargeError,
  AbloValidationError,
  AbloAuthenticationError,
  ERROR_CODES,
  ERROR_TYPES,
  errorFromEnvelope,
  errorMessage,
  statusForErrorCode,
  statusForErrorType,
  toErrorEnvelope,
  type AbloErrorCode,
  type AbloErrorType,
} from '../src/errors.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const abloCodes = new Set(Object.keys(ERROR_CODES));
const cliCodes = new Set(Object.keys(CLI_ERROR_CODES));
const allCodes = new Set([...abloCodes, ...cliCodes]);
const codes = Object.keys(ERROR_CODES) as AbloErrorCode[];

/** Codes whose HTTP status is not their type's: answers Node's parser gives before any route. */
// Transport-level answers: a timeout, oversize headers, and a Data Source's unusable answer (502, as a gateway says).
const OWN_STATUS: Record<string, number> = { request_timeout: 408, headers_too_large: 431, source_bad_response: 502 };

const CLASS_BY_TYPE: Record<AbloErrorType, new (...args: never[]) => AbloError> = {
  validation_error: AbloValidationError,
  schema_error: AbloSchemaError,
  authentication_error: AbloAuthenticationError,
  permission_error: AbloPermissionError,
  not_found: AbloNotFoundError,
  stale_context: AbloStaleContextError,
  claimed: AbloClaimedError,
  idempotency_error: AbloIdempotencyError,
  too_large: AbloTooLargeError,
  rate_limit: AbloRateLimitError,
  connection_error: AbloConnectionError,
  server_error: AbloServerError,
};

/** Params for any template (each takes a subset). */
const PARAMS = { model: 'tasks', id: 't1', method: 'GET', path: '/v1/nope', name: 'tasks_nope' };

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...sources(p));
    else if (/\.tsx?$/.test(name) && !name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

interface CodeLiteral {
  where: string;
  code: string;
}

/** String literals inside an expression (through `a ? 'x' : 'y'`, parentheses, `as`, `satisfies`). */
function literalsIn(node: ts.Node): string[] {
  if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) return [node.text];
  if (ts.isLiteralTypeNode(node) && ts.isStringLiteral(node.literal)) return [node.literal.text];
  // Calls compute the code (the compiler checks their result); an object is not a code (e.g. a JSON Schema
  // property named `code`); type references are other types' parameters.
  if (ts.isCallExpression(node) || ts.isTemplateExpression(node) || ts.isObjectLiteralExpression(node) || ts.isTypeReferenceNode(node)) return [];
  const out: string[] = [];
  ts.forEachChild(node, (child) => {
    out.push(...literalsIn(child));
  });
  return out;
}

/** Zod's own issue codes (`ctx.addIssue({ code: 'custom' })`) are not Ablo's. */
function isZodIssue(obj: ts.ObjectLiteralExpression): boolean {
  const call = obj.parent;
  return ts.isCallExpression(call) && ts.isPropertyAccessExpression(call.expression) && call.expression.name.text === 'addIssue';
}

/** Every `code:` string literal of a source text: `{ code: 'x' }` and `code: 'x' | 'y'` annotations. */
export function codeLiterals(file: string, text: string): CodeLiteral[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const found: CodeLiteral[] = [];
  const at = (node: ts.Node): string => `${file}:${sf.getLineAndCharacterOfPosition(node.getStart()).line + 1}`;
  const named = (name: ts.PropertyName | ts.BindingName | undefined): boolean =>
    !!name && (ts.isIdentifier(name) || ts.isStringLiteral(name)) && name.text === 'code';
  const visit = (node: ts.Node): void => {
    if (ts.isPropertyAssignment(node) && named(node.name) && !(ts.isObjectLiteralExpression(node.parent) && isZodIssue(node.parent))) {
      for (const code of literalsIn(node.initializer)) found.push({ where: at(node), code });
    }
    if ((ts.isPropertySignature(node) || ts.isParameter(node) || ts.isPropertyDeclaration(node)) && named(node.name) && node.type) {
      for (const code of literalsIn(node.type)) found.push({ where: at(node), code });
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return found;
}

function scan(dirs: string[]): CodeLiteral[] {
  return dirs.flatMap((d) => sources(join(root, d)).map((f) => codeLiterals(relative(root, f), readFileSync(f, 'utf8')))).flat();
}

describe('every code in the sources is registered', () => {
  const library = scan(['src', 'mcp']);
  const cli = scan(['cli']);

  test('the scan sees the throw sites (and would see an unregistered code)', () => {
    expect(library.length).toBeGreaterThan(150);
    expect(cli.length).toBeGreaterThan(40);
    expect(library.some((l) => l.where.startsWith('src/engine/') && l.code === 'row_not_found')).toBe(true);
    expect(library.some((l) => l.where.startsWith('src/engine/claims.ts') && l.code === 'claim_wait_timeout')).toBe(true); // a parameter's type
    const drifted = codeLiterals(
      'x.ts',
      "throw new AbloValidationError('dup', { code: 'duplicate_id', model });\n" +
        "const e = { code: ok ? 'row_not_found' : 'no_such_code' };\n" +
        "function f(code: 'queue_full' | 'typo_code') {}\n" +
        "z.string().superRefine((v, ctx) => ctx.addIssue({ code: 'custom', message: 'x' }));\n",
    );
    expect(drifted.map((d) => d.code)).toEqual(['duplicate_id', 'row_not_found', 'no_such_code', 'queue_full', 'typo_code']);
    expect(drifted.filter((d) => !allCodes.has(d.code)).map((d) => d.code)).toEqual(['duplicate_id', 'no_such_code', 'typo_code']);
  });

  test('src/ and mcp/ use only library codes (src/errorCodes.ts)', () => {
    expect(library.filter((l) => !abloCodes.has(l.code)).map((l) => `${l.where} ${l.code}`)).toEqual([]);
  });

  test('cli/ uses only registered codes (cli/errorCodes.ts or src/errorCodes.ts)', () => {
    expect(cli.filter((l) => !allCodes.has(l.code)).map((l) => `${l.where} ${l.code}`)).toEqual([]);
  });

  test('duplicate_id is gone: the storage sink refuses a used id with id_exists', () => {
    expect(abloCodes.has('duplicate_id')).toBe(false);
    expect([...library, ...cli].filter((l) => l.code === 'duplicate_id')).toEqual([]);
    expect(abloError('id_exists', { model: 'tasks', id: 't1' })).toMatchObject({ type: 'validation_error', code: 'id_exists', status: 400 });
  });
});

describe('the registry', () => {
  test("every code's status is its type's, except the transport-level ones listed here", () => {
    const differs = codes.filter((c) => statusForErrorCode(c) !== statusForErrorType(ERROR_CODES[c].type));
    expect(Object.fromEntries(differs.map((c) => [c, statusForErrorCode(c)]))).toEqual(OWN_STATUS);
    for (const c of codes) expect(ERROR_TYPES, c).toContain(ERROR_CODES[c].type);
  });

  test('every code builds its type’s class with its status, and keeps type and code through the HTTP envelope and MCP', () => {
    for (const code of codes) {
      const type = ERROR_CODES[code].type;
      const e = (abloError as (c: AbloErrorCode, p: object) => AbloError)(code, PARAMS);
      expect(e, code).toBeInstanceOf(CLASS_BY_TYPE[type]);
      expect({ type: e.type, code: e.code, status: e.status }, code).toEqual({ type, code, status: statusForErrorCode(code) });
      expect(e.message, code).toBe(errorMessage(code, PARAMS as never));
      expect(e.message.length, code).toBeGreaterThan(5);

      const envelope = JSON.parse(JSON.stringify(toErrorEnvelope(e)));
      expect(envelope.error, code).toMatchObject({ type, code, message: e.message });
      const back = errorFromEnvelope(envelope);
      expect(back, code).toBeInstanceOf(CLASS_BY_TYPE[type]);
      expect({ type: back.type, code: back.code, status: back.status }, code).toEqual({ type, code, status: statusForErrorCode(code) });

      const tool = errorResult(e, { tool: 'tasks_get', model: 'tasks', id: 't1' });
      expect(tool.isError, code).toBe(true);
      expect((tool.structuredContent as { error: object }).error, code).toMatchObject({ type, code });
    }
  });

  test('templates fill in their params', () => {
    expect(abloError('row_not_found', { model: 'tasks', id: 't9' }).message).toBe('No tasks row with id "t9".');
    expect(abloError('row_not_found', { model: 'tasks', id: 't9' }).details).toMatchObject({ model: 'tasks', id: 't9' });
    expect(abloError('no_schema').message).toBe(errorMessage('no_schema'));
  });

  test('a code from a newer engine still rebuilds the class of its type, with its type’s status', () => {
    const e = errorFromEnvelope({ error: { type: 'not_found', code: 'some_future_code', message: 'Gone.' } });
    expect(e).toBeInstanceOf(AbloNotFoundError);
    expect({ code: e.code, status: e.status }).toEqual({ code: 'some_future_code', status: 404 });
  });
});

describe('CLI codes', () => {
  test('the CLI registry shares no code with the library registry', () => {
    expect([...cliCodes].filter((c) => abloCodes.has(c))).toEqual([]);
  });

  test("a CLI error's type follows from its code; exit 2 for usage errors", () => {
    for (const code of cliCodes) {
      const e = new CliError('x', { code: code as keyof typeof CLI_ERROR_CODES });
      const type = CLI_ERROR_CODES[code as keyof typeof CLI_ERROR_CODES].type;
      expect({ type: e.type, exit: e.exitCode }, code).toEqual({ type, exit: type === 'usage_error' ? EXIT_USAGE : EXIT_FAILURE });
      expect(new UsageError('x', { code: code as keyof typeof CLI_ERROR_CODES }).exitCode, code).toBe(EXIT_USAGE);
    }
    expect(new CliError('x', { code: 'no_schema' })).toMatchObject({ type: 'validation_error', exitCode: EXIT_FAILURE });
    expect(new UsageError('x', { code: 'invalid_rename' })).toMatchObject({ type: 'schema_error', exitCode: EXIT_USAGE });
    expect(new UsageError('x')).toMatchObject({ type: 'usage_error', code: 'bad_usage', exitCode: EXIT_USAGE });
    expect(new CliError('x')).toMatchObject({ type: 'cli_error', code: 'failed', exitCode: EXIT_FAILURE });
    expect(cliErrorType('unexpected')).toBe('internal_error');
  });
});

/** Markdown tables of a page: header cells and rows of cells. */
function tables(markdown: string): Array<{ header: string[]; rows: Array<{ line: number; cells: string[] }> }> {
  const out: Array<{ header: string[]; rows: Array<{ line: number; cells: string[] }> }> = [];
  const lines = markdown.split('\n');
  const cells = (l: string): string[] =>
    l
      .trim()
      .replace(/^\||\|$/g, '')
      .split(/(?<!\\)\|/)
      .map((c) => c.trim());
  for (let i = 0; i + 1 < lines.length; i++) {
    if (!lines[i]!.trim().startsWith('|') || !/^\|?\s*:?-{3,}/.test(lines[i + 1]!.trim())) continue;
    const table = { header: cells(lines[i]!).map((h) => h.toLowerCase()), rows: [] as Array<{ line: number; cells: string[] }> };
    let j = i + 2;
    for (; j < lines.length && lines[j]!.trim().startsWith('|'); j++) table.rows.push({ line: j + 1, cells: cells(lines[j]!) });
    out.push(table);
    i = j;
  }
  return out;
}

/** Backticked names of a cell, leaving out what is in parentheses (`(with \`holder\`)` names fields). */
function codesOfCell(cell: string): string[] {
  let text = cell;
  for (let prev = ''; prev !== text; ) {
    prev = text;
    text = text.replace(/\([^()]*\)/g, '');
  }
  return [...text.matchAll(/`([A-Za-z_]+)`/g)].map((m) => m[1]!);
}

describe('the docs name only registered codes', () => {
  const pages = ['docs/http-api.md', 'docs/cli.md', 'docs/mcp.md', ...readdirSync(join(root, 'docs')).map((f) => `docs/${f}`), 'README.md', 'llms.txt'];
  const unique = [...new Set(pages)].filter((p) => p.endsWith('.md') || p.endsWith('.txt'));

  test('error tables: every code registered, with the type and status the table gives', () => {
    const problems: string[] = [];
    let checked = 0;
    for (const page of unique) {
      const text = readFileSync(join(root, page), 'utf8');
      for (const t of tables(text)) {
        const codeCol = t.header.findIndex((h) => h === 'code' || h === '`code`' || h.includes('of `code`'));
        if (codeCol < 0) continue;
        const typeCol = t.header.indexOf('type');
        const statusCol = t.header.indexOf('status');
        for (const row of t.rows) {
          const type = typeCol >= 0 ? codesOfCell(row.cells[typeCol] ?? '')[0] : undefined;
          const status = statusCol >= 0 ? Number(row.cells[statusCol]) : undefined;
          for (const code of codesOfCell(row.cells[codeCol] ?? '')) {
            checked++;
            const where = `${page}:${row.line} ${code}`;
            if (!allCodes.has(code)) {
              problems.push(`${where}: not registered`);
              continue;
            }
            const registered = (ERROR_CODES as Record<string, { type: string }>)[code]?.type ?? cliErrorType(code as keyof typeof CLI_ERROR_CODES);
            if (type !== undefined && type !== registered) problems.push(`${where}: table says ${type}, registry ${registered}`);
            if (status !== undefined && abloCodes.has(code) && status !== statusForErrorCode(code as AbloErrorCode)) {
              problems.push(`${where}: table says ${status}, registry ${statusForErrorCode(code as AbloErrorCode)}`);
            }
          }
        }
      }
    }
    expect(problems).toEqual([]);
    expect(checked).toBeGreaterThan(60);
  });

  test('the pages the issue names have their error tables (http-api, cli, coordination) and code examples (mcp)', () => {
    for (const page of ['docs/http-api.md', 'docs/cli.md', 'docs/coordination.md']) {
      const t = tables(readFileSync(join(root, page), 'utf8')).filter((x) => x.header.some((h) => h === 'code' || h.includes('of `code`')));
      expect(t.length, page).toBeGreaterThan(0);
    }
    expect(readFileSync(join(root, 'docs/mcp.md'), 'utf8')).toMatch(/code: "unknown_tool"/);
  });

  test('`"code": "…"` and `code: "…"` in the text name registered codes', () => {
    const problems: string[] = [];
    let checked = 0;
    for (const page of unique) {
      const text = readFileSync(join(root, page), 'utf8');
      for (const m of text.matchAll(/"?code"?:\s*"([A-Za-z_]+)"/g)) {
        checked++;
        if (!allCodes.has(m[1]!)) problems.push(`${page}: ${m[0]}`);
      }
    }
    expect(problems).toEqual([]);
    expect(checked).toBeGreaterThan(3);
  });
});
