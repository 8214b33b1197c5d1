/**
 * Arguments that do not match a tool's input schema, said the way an agent
 * can act on: one line per argument, "Argument `limit`: expected a number
 * ≤ 1000 (got "abc"). Fix: …". Zod's own wording ("Invalid input: …") is
 * turned into what was expected; messages written in ./inputs.ts (unknown
 * keys, whole numbers) are kept as they are.
 */
import type { z } from 'zod';
import { AbloValidationError, type FieldIssue } from '../src/errors.js';

type Issue = z.core.$ZodIssue;

const MISSING = Symbol('missing');

/** The value at `path` in the arguments, or MISSING. */
function valueAt(args: unknown, path: readonly PropertyKey[]): unknown {
  let v: unknown = args;
  for (const k of path) {
    if (v === null || typeof v !== 'object' || !(k in (v as object))) return MISSING;
    v = (v as Record<PropertyKey, unknown>)[k];
  }
  return v;
}

function shown(v: unknown): string {
  const text = JSON.stringify(v) ?? String(v);
  return text.length <= 60 ? text : `${text.slice(0, 60)}…`;
}

function typeName(expected: string): string {
  if (expected === 'array' || expected === 'object' || expected === 'integer') return `an ${expected}`;
  return `a ${expected}`;
}

function bound(issue: Issue): string | undefined {
  if (issue.code !== 'too_big' && issue.code !== 'too_small') return undefined;
  const big = issue.code === 'too_big';
  const limit = Number(big ? issue.maximum : issue.minimum);
  const inclusive = issue.inclusive !== false;
  switch (issue.origin) {
    case 'number':
    case 'int':
    case 'bigint':
      return `a number ${big ? (inclusive ? '≤' : '<') : inclusive ? '≥' : '>'} ${limit}`;
    case 'string':
      return `a string of ${big ? 'at most' : 'at least'} ${inclusive ? limit : big ? limit - 1 : limit + 1} characters`;
    case 'array':
    case 'set':
      return `${big ? 'at most' : 'at least'} ${inclusive ? limit : big ? limit - 1 : limit + 1} items`;
    default:
      return undefined;
  }
}

/** What the argument should be, when Zod says it in its own words; undefined for a message written here. */
function expectation(issue: Issue): string | undefined {
  if (issue.code === 'invalid_type' && issue.message.startsWith('Invalid input')) return typeName(issue.expected);
  if (issue.code === 'invalid_value' && issue.message.startsWith('Invalid option')) return `one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
  if ((issue.code === 'too_big' || issue.code === 'too_small') && /^Too (big|small)/.test(issue.message)) return bound(issue);
  return undefined;
}

/** One issue as a line: the argument, what was wrong, the fix. */
function issueLine(tool: string, issue: Issue, args: unknown): { field: string; line: string } {
  const field = issue.path.map(String).join('.');
  const name = field ? `Argument \`${field}\`` : 'Arguments';
  const value = valueAt(args, issue.path);
  const expected = expectation(issue);
  const again = `call ${tool} again`;
  if (value === MISSING && issue.code === 'invalid_type') {
    return { field, line: `${name} is required and missing. Fix: pass \`${field}\` (${expected ?? typeName(issue.expected)}) and ${again}.` };
  }
  if (issue.code === 'unrecognized_keys') {
    return { field: field || '(arguments)', line: `${issue.message} Fix: leave out ${issue.keys.map((k) => `\`${k}\``).join(', ')} and ${again}.` };
  }
  const got = value === MISSING ? '' : ` (got ${shown(value)})`;
  if (expected) return { field, line: `${name}: expected ${expected}${got}. Fix: pass \`${field}\` as ${expected} and ${again}.` };
  return { field, line: `${name}: ${issue.message.replace(/\.$/, '')}${got}. Fix \`${field || 'the arguments'}\` and ${again}.` };
}

/** Arguments that do not match a tool's input schema, as a typed error naming each argument and its fix. */
export function invalidArguments(tool: string, error: z.ZodError, args?: unknown): AbloValidationError {
  const lines = error.issues.map((i) => ({ ...issueLine(tool, i as Issue, args), issue: i }));
  const issues: FieldIssue[] = lines.map(({ field, issue }) => ({ field: field || '(arguments)', code: issue.code, message: issue.message }));
  const text = lines.slice(0, 5).map((l) => l.line);
  if (lines.length > text.length) text.push(`And ${lines.length - text.length} more.`);
  return new AbloValidationError(text.join('\n'), { code: 'invalid_arguments', field: issues[0]?.field, issues });
}
