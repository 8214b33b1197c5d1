/**
 * SQLite storage: rows encoded as JSON text by SQLite itself, for bootstrap
 * (`scanGroupRowsJson`). The text of a row parses to exactly the row that
 * `ModelCodec.decodeRow` gives (what `JSON.stringify(row)` would send), with
 * no JavaScript object made on the way:
 *
 * - text columns (string, enum, date, id, timestamps): `json_quote`, which
 *   escapes quotes, backslashes and control characters;
 * - number columns: integers as their digits; reals as the integer when they
 *   hold one below 2^53, else `printf('%!.17g')` — 17 significant digits
 *   always name the same double (SQLite's own JSON rendering of a real keeps
 *   15 and would lose precision); ±infinity as `null`, as `JSON.stringify`
 *   writes it;
 * - booleans: `null`, `false` for 0, `true` for anything else (as decodeRow);
 * - JSON columns: the stored text as it is (written by `stringifyJson`), after
 *   `json_valid` says it is JSON.
 *
 * A row the SQL cannot vouch for — a JSON column that is not valid JSON to
 * SQLite, or nests deeper than its parser goes (1,000 levels; restores reach
 * 2,048), or any piece that came out NULL — is given as NULL: the caller
 * decodes that row in JavaScript and encodes it the ordinary way.
 */
import { quoteId, type ColumnInfo, type ModelCodec } from './sqlite-codec.js';

/** A SQL string literal. */
function sqlString(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

/** JSON of a number column's value (any storage class, as decodeRow would read it). */
function numberJson(c: string): string {
  const real =
    `CASE WHEN abs(${c}) > 1.7976931348623157e308 THEN 'null' ` +
    `WHEN abs(${c}) < 9007199254740992.0 AND ${c} = CAST(${c} AS INTEGER) THEN CAST(CAST(${c} AS INTEGER) AS TEXT) ` +
    `ELSE printf('%!.17g', ${c}) END`;
  return `(CASE typeof(${c}) WHEN 'integer' THEN CAST(${c} AS TEXT) WHEN 'real' THEN (${real}) ELSE json_quote(${c}) END)`;
}

function valueJson(col: ColumnInfo): string {
  const c = col.column;
  switch (col.kind) {
    case 'text':
      return `json_quote(${c})`;
    case 'integer':
    case 'real':
      return numberJson(c);
    case 'boolean':
      return `(CASE WHEN ${c} IS NULL THEN 'null' WHEN ${c} = 0 THEN 'false' ELSE 'true' END)`;
    case 'json':
      return `ifnull(${c}, 'null')`;
  }
}

/**
 * SQL of one expression over `codec`'s table giving the row's JSON text, or
 * NULL when the row must be encoded in JavaScript (see the file comment).
 * `table` qualifies the columns (an alias), when given.
 */
export function rowJsonSql(codec: ModelCodec, table?: string): string {
  const system: ColumnInfo[] = [
    { name: 'id', column: '"id"', kind: 'text' },
    { name: 'createdAt', column: '"createdAt"', kind: 'text' },
    { name: 'updatedAt', column: '"updatedAt"', kind: 'text' },
    { name: 'syncId', column: '"syncId"', kind: 'integer' },
  ];
  const columns = [...system, ...codec.fields].map((c) => (table ? { ...c, column: `${table}.${quoteId(c.name)}` } : c));
  const parts = columns.map((c, i) => `${sqlString(`${i === 0 ? '{' : ','}${JSON.stringify(c.name)}:`)} || ${valueJson(c)}`);
  const body = `${parts.join(' || ')} || '}'`;
  const json = columns.filter((c) => c.kind === 'json').map((c) => `(${c.column} IS NULL OR json_valid(${c.column}))`);
  return json.length === 0 ? `(${body})` : `(CASE WHEN ${json.join(' AND ')} THEN ${body} END)`;
}
