/**
 * Postgres storage: rows encoded as JSON text by Postgres itself, for
 * bootstrap (`scanGroupRowsJson`), as sqlite-json.ts does for SQLite. A
 * row's text parses to exactly the row `PgModelCodec.decodeRow` gives:
 *
 * - text columns: `to_json(col)::text` (quotes, backslashes and control
 *   characters escaped by Postgres);
 * - integers: their digits; doubles: Postgres's shortest exact text (`-0` as
 *   `0`, as `JSON.stringify` writes it; ±Infinity and NaN as `null`);
 * - booleans: `true` / `false` / `null`;
 * - JSON columns: the stored text as it is (written by `stringifyJson`).
 *
 * A row with a text value stored escaped (it holds U+0000 or U+0001, see
 * postgres-codec.ts) is given as NULL: the caller decodes that row in
 * JavaScript. A page is one statement aggregating the rows' texts with
 * `string_agg` into one bytea (`convert_to`), so JavaScript gets one Buffer
 * per page.
 */
import { quoteId, type ColumnInfo, type PgModelCodec } from './postgres-codec.js';
import { SYSTEM_COLUMNS } from './sqlite-codec.js';

function valueJson(col: ColumnInfo, c: string): string {
  switch (col.kind) {
    case 'text':
      return `coalesce(to_json(${c})::text, 'null')`;
    case 'integer':
      return `coalesce(${c}::text, 'null')`;
    case 'real':
      return `(CASE WHEN ${c} IS NULL OR ${c} IN ('Infinity'::float8, '-Infinity'::float8, 'NaN'::float8) THEN 'null' WHEN ${c} = 0 THEN '0' ELSE ${c}::text END)`;
    case 'boolean':
      return `(CASE WHEN ${c} THEN 'true' WHEN NOT ${c} THEN 'false' ELSE 'null' END)`;
    case 'json':
      return `coalesce(${c}, 'null')`;
  }
}

/** A SQL string literal. */
function sqlString(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

/** SQL of one expression over `codec`'s table (alias `t`) giving the row's JSON text, or NULL (see the file comment). */
export function pgRowJsonSql(codec: PgModelCodec): string {
  const columns = [...SYSTEM_COLUMNS, ...codec.fields];
  const pieces = columns.map((col, i) => {
    const c = `t.${quoteId(col.name)}`;
    const key = sqlString(`${i === 0 ? '{' : ','}${JSON.stringify(col.name)}:`);
    return `${key} || ${i === 3 ? `${c}::text` : valueJson(col, c)}`;
  });
  const escaped = columns.filter((c) => c.kind === 'text').map((c) => `strpos(t.${quoteId(c.name)}, chr(1)) > 0`);
  return `(CASE WHEN ${escaped.join(' OR ')} THEN NULL ELSE ${pieces.join(' || ')} || '}' END)`;
}

/**
 * Per row of a page: `id`, and `j` — the row's JSON text, '' for a row left
 * out (in one of the skip groups), or NULL for a row JavaScript must encode;
 * with `full`, the row's columns follow (for the JavaScript fallback).
 * Parameters, 'table': $1 after, $2 limit; 'group': $1 model, $2 group,
 * $3 after, $4 limit, $5 skip groups (text[], when `withSkip`).
 */
export function pgPageRowsSql(codec: PgModelCodec, rowJson: string, from: 'group' | 'table', withSkip: boolean, full = false): string {
  const inSkipped = `EXISTS (SELECT 1 FROM _ablo_row_groups s WHERE s.model = $1 AND s.row_id = t."id" AND s.grp = ANY($5::text[]))`;
  const j = withSkip ? `CASE WHEN ${inSkipped} THEN '' ELSE ${rowJson} END` : rowJson;
  const extra = full ? `, ${[...SYSTEM_COLUMNS, ...codec.fields].map((c) => `t.${quoteId(c.name)}`).join(', ')}` : '';
  if (from === 'table') return `SELECT t."id" AS id, ${j} AS j${extra} FROM ${codec.table} t WHERE t."id" > $1 ORDER BY t."id" LIMIT $2`;
  return (
    `SELECT t."id" AS id, ${j} AS j${extra} FROM _ablo_row_groups g JOIN ${codec.table} t ON t."id" = g.row_id ` +
    `WHERE g.model = $1 AND g.grp = $2 AND g.row_id > $3 ORDER BY g.row_id LIMIT $4`
  );
}

/** One page as one row: rows read, last id, rows JavaScript must encode, rows encoded, their texts joined by commas as bytea. */
export function pgPageSql(rowsSql: string): string {
  return (
    `SELECT count(*)::int AS read, max(id) AS last, count(*) FILTER (WHERE j IS NULL)::int AS fallback, count(nullif(j, ''))::int AS rows, ` +
    `convert_to(string_agg(nullif(j, ''), ',' ORDER BY id), 'UTF8') AS json FROM (${rowsSql}) p`
  );
}
