/**
 * Check untrusted wire input against a protocol schema; failures become an
 * `AbloValidationError` that names the offending path.
 */
import type { z } from 'zod';
import { AbloValidationError } from '../errors.js';

export function parseWire<T extends z.ZodType>(schema: T, value: unknown, what: string): z.output<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issues = result.error.issues.map((i) => {
    const field = i.path.map(String).join('.');
    if (i.code === 'unrecognized_keys') {
      const keys = (i as { keys: string[] }).keys;
      return { field: field ? `${field}.${keys[0]}` : keys[0]!, code: 'unknown_field', message: `Unknown key(s): ${keys.join(', ')}.` };
    }
    return { field, code: i.code, message: i.message };
  });
  const first = issues[0]!;
  throw new AbloValidationError(`Invalid ${what}${first.field ? ` at "${first.field}"` : ''}: ${first.message}`, {
    code: 'invalid_request',
    field: first.field,
    issues,
  });
}
