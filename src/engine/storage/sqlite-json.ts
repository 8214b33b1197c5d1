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
 *
 * A page is one statement: the rows of one group (the group index joined to
 * the table, in id order; or the table alone when every row is in the
 * group), aggregated into one comma-joined text by
 * `group_concat`, so JavaScript gets one buffer per page, not a string per row.
 * Only a page that holds a row SQL could not encode, or that comes out over
 * its byte budget, is read again row by row (`pageRowsSql`).
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

/** Columns per `printf` call (SQLite caps a function's arguments; 127 in older builds). */
const PRINTF_ARGS = 100;

/**
 * SQL of one expression over `codec`'s table giving the row's JSON text, or
 * NULL when the row must be encoded in JavaScript (see the file comment).
 * `table` qualifies the columns (an alias), when given. The text is built by
 * `printf` (one buffer per row, not one per piece); no piece is ever NULL.
 */
export function rowJsonSql(codec: ModelCodec, table?: string): string {
  const system: ColumnInfo[] = [
    { name: 'id', column: '"id"', kind: 'text' },
    { name: 'createdAt', column: '"createdAt"', kind: 'text' },
    { name: 'updatedAt', column: '"updatedAt"', kind: 'text' },
    { name: 'syncId', column: '"syncId"', kind: 'integer' },
  ];
  const columns = [...system, ...codec.fields].map((c) => (table ? { ...c, column: `${table}.${quoteId(c.name)}` } : c));
  const chunks: string[] = [];
  for (let from = 0; from < columns.length; from += PRINTF_ARGS) {
    const part = columns.slice(from, from + PRINTF_ARGS);
    const format = part.map((c, i) => `${from + i === 0 ? '{' : ','}${JSON.stringify(c.name).replace(/%/g, '%%')}:%s`).join('');
    // The sync id (4th system column) is an INTEGER NOT NULL the storage assigns: its digits as they are.
    const values = part.map((c, i) => (from + i === 3 ? c.column : valueJson(c)));
    chunks.push(`printf(${sqlString(format)}, ${values.join(', ')})`);
  }
  const body = `${chunks.join(' || ')} || '}'`;
  const json = columns.filter((c) => c.kind === 'json').map((c) => `(${c.column} IS NULL OR json_valid(${c.column}))`);
  return json.length === 0 ? `(${body})` : `(CASE WHEN ${json.join(' AND ')} THEN ${body} END)`;
}

/**
 * Per row of a page: `id`, and `j` — the row's JSON text, '' for a row left
 * out because it is in one of the `@skip` groups (a JSON array), or NULL for
 * a row JavaScript must encode. Parameters: @after, @limit, and @model,
 * @group (when `from` is 'group'), @skip (when `withSkip`).
 *
 * `from`: 'group' reads the group index joined to the table; 'table' reads
 * the table alone, for a group every row of the model is in (a model whose
 * groups are constant, such as `default` for a model without templates): the
 * same rows, one index lookup fewer per row.
 */
export function pageRowsSql(codec: ModelCodec, rowJson: string, from: 'group' | 'table', withSkip: boolean): string {
  const inSkipped = `EXISTS (SELECT 1 FROM _ablo_row_groups s WHERE s.model = @model AND s.row_id = t."id" AND s.grp IN (SELECT value FROM json_each(@skip)))`;
  const j = withSkip ? `CASE WHEN ${inSkipped} THEN '' ELSE ${rowJson} END` : rowJson;
  if (from === 'table') return `SELECT t."id" AS id, ${j} AS j FROM ${codec.table} t WHERE t."id" > @after ORDER BY t."id" LIMIT @limit`;
  return (
    `SELECT t."id" AS id, ${j} AS j FROM _ablo_row_groups g JOIN ${codec.table} t ON t."id" = g.row_id ` +
    `WHERE g.model = @model AND g.grp = @group AND g.row_id > @after ORDER BY g.row_id LIMIT @limit`
  );
}

/**
 * One page as one row: rows read, last id, rows JavaScript must encode, rows
 * encoded, and their JSON texts joined by commas (in the order the page
 * query gives them, id order) as a BLOB: the UTF-8 bytes come to JavaScript
 * as a Buffer, never decoded into a string.
 */
export function pageSql(rowsSql: string): string {
  return `SELECT count(*), max(id), sum(j IS NULL), count(nullif(j, '')), CAST(group_concat(nullif(j, ''), ',') AS BLOB) FROM (${rowsSql})`;
}
