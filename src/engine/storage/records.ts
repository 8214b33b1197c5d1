/**
 * The engine's internal records as both storages keep them: a change-log row
 * and an API-key row (the same columns in SQLite and Postgres), mapped to
 * and from the storage port's types. A dialect passes how it stores ids
 * (Postgres escapes U+0000 in text).
 */
import type { ParticipantRef } from '../../protocol/commit.js';
import type { Operation } from '../../protocol/operations.js';
import type { ApiKeyRecord, ChangeFilter, ChangeRecord, RowChangeMeta } from './types.js';

/** A change-log row (`_ablo_changes`). */
export interface ChangeRow {
  sync_id: number;
  model: string;
  row_id: string;
  action: string;
  fields: string;
  data: string | null;
  groups: string;
  prev_groups: string | null;
  participant_kind: string;
  participant_id: string;
  client_tx_id: string | null;
  commit_id: string;
  at: string;
  /** The committing credential (`key_…`, `ses_…`); null for entries recorded before it was kept. */
  credential_id: string | null;
  /** The participant the writer acted for, when another than its own. */
  on_behalf_kind: string | null;
  on_behalf_id: string | null;
}

const same = (text: string): string => text;

/** The change log's columns, in the order `changeValues` gives them (the same in both dialects). */
export const CHANGE_COLUMNS =
  'sync_id, model, row_id, action, fields, data, groups, prev_groups, participant_kind, participant_id, client_tx_id, commit_id, at, credential_id, on_behalf_kind, on_behalf_id';
/** Values per change-log row. */
export const CHANGE_WIDTH = 16;

/**
 * The conditions of a `ChangeFilter` (`Storage.changesWhere`) as SQL over
 * `_ablo_changes`, joined with AND (`'TRUE'` when it has none); `param` binds
 * one value and answers its placeholder, `encodeId` stores a row id.
 * Participant: the writer or the participant it acted for.
 */
export function changeFilterSql(filter: ChangeFilter, param: (value: string) => string, encodeId: (id: string) => string = same): string {
  const parts: string[] = [];
  if (filter.participant) {
    const { kind, id } = filter.participant;
    // Each value bound where it is used (positional `?` placeholders cannot be reused).
    parts.push(`((participant_kind = ${param(kind)} AND participant_id = ${param(id)}) OR (on_behalf_kind = ${param(kind)} AND on_behalf_id = ${param(id)}))`);
  }
  if (filter.model !== undefined) parts.push(`model = ${param(filter.model)}`);
  if (filter.id !== undefined) parts.push(`row_id = ${param(encodeId(filter.id))}`);
  return parts.length > 0 ? parts.join(' AND ') : 'TRUE';
}

/** A change's column values, in the change-log column order; `encodeId` stores the row id. */
export function changeValues(c: ChangeRecord, encodeId: (id: string) => string = same): Array<string | number | null> {
  return [
    c.syncId,
    c.model,
    encodeId(c.id),
    c.action,
    JSON.stringify(c.fields),
    c.data === null || c.data === undefined ? null : JSON.stringify(c.data),
    JSON.stringify(c.groups),
    c.prevGroups === undefined ? null : JSON.stringify(c.prevGroups),
    c.participant.kind,
    c.participant.id,
    c.clientTxId ?? null,
    c.commitId,
    c.at,
    c.credentialId ?? null,
    c.onBehalfOf?.kind ?? null,
    c.onBehalfOf?.id ?? null,
  ];
}

/** Maps change-log rows to the port's records; `decodeId` reads a stored row id. One argument, so it can be passed to `map`. */
export function changeReader(decodeId: (id: string) => string): (r: ChangeRow) => ChangeRecord {
  return (r) => readChange(r, decodeId);
}

/** A change-log row as the port's record (ids stored as they are). */
export const changeFromRow = changeReader(same);

function readChange(r: ChangeRow, decodeId: (id: string) => string): ChangeRecord {
  const out: ChangeRecord = {
    syncId: r.sync_id,
    model: r.model,
    id: decodeId(r.row_id),
    action: r.action as ChangeRecord['action'],
    fields: JSON.parse(r.fields) as string[],
    data: r.data === null ? null : (JSON.parse(r.data) as ChangeRecord['data']),
    groups: JSON.parse(r.groups) as string[],
    participant: { kind: r.participant_kind as ParticipantRef['kind'], id: r.participant_id },
    clientTxId: r.client_tx_id,
    at: r.at,
    commitId: r.commit_id,
  };
  if (r.prev_groups !== null) out.prevGroups = JSON.parse(r.prev_groups) as string[];
  const onBehalfOf = onBehalfOfRow(r);
  if (onBehalfOf) out.onBehalfOf = onBehalfOf;
  if (r.credential_id !== null && r.credential_id !== undefined) out.credentialId = r.credential_id;
  return out;
}

function onBehalfOfRow(r: Pick<ChangeRow, 'on_behalf_kind' | 'on_behalf_id'>): ParticipantRef | undefined {
  return r.on_behalf_kind === null || r.on_behalf_kind === undefined || r.on_behalf_id === null
    ? undefined
    : { kind: r.on_behalf_kind as ParticipantRef['kind'], id: r.on_behalf_id };
}

/** What the stale guard reads of a change. */
export function rowChangeFromRow(
  r: Pick<ChangeRow, 'sync_id' | 'action' | 'fields' | 'participant_kind' | 'participant_id' | 'on_behalf_kind' | 'on_behalf_id'>,
): RowChangeMeta {
  const out: RowChangeMeta = {
    syncId: r.sync_id,
    action: r.action as RowChangeMeta['action'],
    fields: JSON.parse(r.fields) as string[],
    participant: { kind: r.participant_kind as ParticipantRef['kind'], id: r.participant_id },
  };
  const onBehalfOf = onBehalfOfRow(r);
  if (onBehalfOf) out.onBehalfOf = onBehalfOf;
  return out;
}

/** An API-key row (`_ablo_api_keys`). */
export interface KeyRow {
  id: string;
  name: string;
  prefix: string;
  hash: string;
  created_at: string;
  revoked_at: string | null;
  participant_kind: string;
  participant_id: string;
  /** `secret` or `restricted` (a key made before restricted keys existed: `secret`, the column's default). */
  kind: string;
  /** JSON array of group patterns; NULL for a secret key. */
  groups: string | null;
  /** JSON array of operations; NULL for a secret key. */
  operations: string | null;
}

export function keyFromRow(r: KeyRow): ApiKeyRecord {
  const restricted = r.kind === 'restricted';
  return {
    id: r.id,
    name: r.name,
    prefix: r.prefix,
    hash: r.hash,
    createdAt: r.created_at,
    revokedAt: r.revoked_at,
    participant: { kind: r.participant_kind as ParticipantRef['kind'], id: r.participant_id },
    kind: restricted ? 'restricted' : 'secret',
    // A restricted key whose scope columns are empty may do nothing (never everything).
    groups: restricted ? ((r.groups === null ? [] : JSON.parse(r.groups)) as string[]) : null,
    operations: restricted ? ((r.operations === null ? [] : JSON.parse(r.operations)) as Operation[]) : null,
  };
}

/** The key columns, in `keyParams` order. */
export const KEY_COLUMNS = 'id, name, prefix, hash, created_at, revoked_at, participant_kind, participant_id, kind, groups, operations';

/** A key's column values, in `KEY_COLUMNS` order. */
export function keyParams(k: ApiKeyRecord): Array<string | null> {
  const restricted = k.kind === 'restricted';
  return [
    k.id,
    k.name,
    k.prefix,
    k.hash,
    k.createdAt,
    k.revokedAt ?? null,
    k.participant.kind,
    k.participant.id,
    restricted ? 'restricted' : 'secret',
    restricted ? JSON.stringify(k.groups ?? []) : null,
    restricted ? JSON.stringify(k.operations ?? []) : null,
  ];
}

/** Widest window of sync ids one query of `readInWindows` covers. */
const MAX_WINDOW = 1 << 16;

/**
 * Several groups' change-log rows in (after, upTo], in order, at most `limit`:
 * their entries interleave, so each query covers a window of sync ids (at most
 * `width` entries per group), and a window with few hits widens the next.
 * `page(from, to, want)` reads one window: rows with from < sync_id <= to, at
 * most `want`, in order.
 */
export async function readInWindows<R>(
  after: number,
  upTo: number,
  limit: number,
  page: (from: number, to: number, want: number) => R[] | Promise<R[]>,
): Promise<R[]> {
  const rows: R[] = [];
  let from = after;
  let width = Math.max(limit, 256);
  while (rows.length < limit && from < upTo) {
    const to = Math.min(upTo, from + width);
    const want = limit - rows.length;
    const got = await page(from, to, want);
    for (const r of got) rows.push(r);
    if (got.length === want) break;
    from = to;
    if (got.length < want / 4) width = Math.min(width * 4, MAX_WINDOW);
  }
  return rows;
}
