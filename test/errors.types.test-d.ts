/**
 * Compile-time checking of error codes: a class takes only the registered codes
 * of its own type, `abloError` builds the class of the code's type and wants the
 * params its template names, and a CLI error takes only registered codes.
 */
import { describe, expectTypeOf, test } from 'vitest';
import { CliError, UsageError, type CliErrorCode } from '../cli/errors.js';
import {
  AbloClaimedError,
  AbloConnectionError,
  AbloError,
  abloError,
  AbloNotFoundError,
  AbloServerError,
  AbloValidationError,
  type AbloErrorCode,
  type AbloErrorCodeOf,
} from '../src/errors.js';

describe('error classes take the registered codes of their type', () => {
  test('a registered code of the class’s type compiles', () => {
    new AbloNotFoundError('No tasks row with id "t1".', { code: 'row_not_found', model: 'tasks', id: 't1' });
    new AbloValidationError('Bad.', { code: 'id_exists', model: 'tasks', field: 'id' });
    new AbloClaimedError('Held.', { code: 'queue_full' });
  });

  test('an unregistered code does not compile', () => {
    // @ts-expect-error not in src/errorCodes.ts
    new AbloValidationError('Dup.', { code: 'duplicate_id' });
    // @ts-expect-error not in src/errorCodes.ts
    new AbloServerError('Oops.', { code: 'oops' });
  });

  test('a code of another type does not compile', () => {
    // @ts-expect-error row_not_found is a not_found code
    new AbloValidationError('No row.', { code: 'row_not_found' });
    // @ts-expect-error id_exists is a validation_error code
    new AbloNotFoundError('Exists.', { code: 'id_exists' });
    // @ts-expect-error cancelled is a connection_error code
    new AbloServerError('Cancelled.', { code: 'cancelled' });
  });

  test('the base class pairs type and code too', () => {
    new AbloError('not_found', 'row_not_found', 'No row.');
    // @ts-expect-error row_not_found is not a validation_error code
    new AbloError('validation_error', 'row_not_found', 'No row.');
  });

  test('code is typed: comparisons with unregistered codes do not compile', () => {
    const e = new AbloConnectionError('Gone.', { code: 'unreachable' });
    expectTypeOf(e.code).toEqualTypeOf<AbloErrorCodeOf<'connection_error'>>();
    expectTypeOf(e.type).toEqualTypeOf<'connection_error'>();
    const any = e as AbloError;
    expectTypeOf(any.code).toEqualTypeOf<AbloErrorCode>();
    // @ts-expect-error no such code: a typo is caught
    void (any.code === 'row_not_fuond');
  });
});

describe('abloError(code, params)', () => {
  test('returns the class of the code’s type', () => {
    expectTypeOf(abloError('row_not_found', { model: 'tasks', id: 't1' })).toEqualTypeOf<AbloNotFoundError>();
    expectTypeOf(abloError('no_schema')).toEqualTypeOf<AbloValidationError>();
    expectTypeOf(abloError('shutting_down')).toEqualTypeOf<AbloServerError>();
  });

  test('wants the params its template names', () => {
    // @ts-expect-error row_not_found's message needs model and id
    abloError('row_not_found');
    // @ts-expect-error id is missing
    abloError('row_not_found', { model: 'tasks' });
    // @ts-expect-error not a registered code
    abloError('duplicate_id');
  });
});

describe('CLI errors take registered codes', () => {
  test('CLI-only and library codes compile; others do not', () => {
    new CliError('no file', { code: 'schema_not_found' });
    new CliError('no schema', { code: 'no_schema' });
    new UsageError('bad', { code: 'unknownOption' });
    // @ts-expect-error not registered in cli/errorCodes.ts or src/errorCodes.ts
    new CliError('x', { code: 'cancelled_prompt' });
    // @ts-expect-error the type follows from the code; it cannot be set apart from it
    new CliError('x', { code: 'failed', type: 'config_error' });
    expectTypeOf(new CliError('x').code).toEqualTypeOf<CliErrorCode>();
  });

  test('an engine error rewritten for the terminal keeps its type and code (from)', () => {
    const e = abloError('no_schema');
    new CliError(e.message, { from: e, fix: 'Push one.' });
    // @ts-expect-error from and code are exclusive
    new CliError(e.message, { from: e, code: 'failed' });
  });
});
