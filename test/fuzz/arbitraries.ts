/**
 * Generators aimed at the edges: JSON TEXT (so it can hold what JSON.stringify
 * never writes: 10,000-level nesting, 1e400, escaped lone surrogates, broken
 * syntax), names that collide with Object.prototype or look like SQL, huge and
 * NaN-ish numbers, wrong types, oversize strings, unknown models and fields.
 * Most generated requests are well-formed but for one or two parts, so the
 * checks behind the parser are reached too.
 */
import fc from 'fast-check';

export const PROTO_NAMES = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__', 'isPrototypeOf'];
export const SQL_NAMES = [`title' OR '1'='1`, 'title"; DROP TABLE notes; --', 'notes--', '"notes"', 'sqlite_master', '_ablo_changes', 'id) OR (1=1', '*'];
export const ODD_NAMES = ['', ' ', 'a'.repeat(64), 'a'.repeat(300), 'NaN', 'null', 'undefined', '0', '-1', '1e3', 'ti\u0000tle', 'Title', 'TITLE', '\ud83d', 'x\udc00', '😀', 'x.y', 'x[y]', '%00', '../etc/passwd', 'id', 'createdAt', 'updatedAt', 'syncId'];
export const FIELD_NAMES = ['title', 'body', 'n', 'score', 'done', 'status', 'at', 'meta', 'tags', 'projectId', 'estimate'];
export const MODEL_NAMES = ['notes', 'tasks'];
/** Row ids the fuzz keeps hitting, so updates, deletes and claims meet existing rows. */
export const IDS = ['n1', 'n2', 'n3', 't1', 't2', 'p-1', 'x:y.z_1'];

const pick = <T>(xs: readonly T[]) => fc.constantFrom(...xs);

/** A name for a model, field, key or query parameter. */
export const name = fc.oneof(
  { weight: 5, arbitrary: pick([...FIELD_NAMES, ...MODEL_NAMES]) },
  { weight: 3, arbitrary: pick(PROTO_NAMES) },
  { weight: 2, arbitrary: pick([...SQL_NAMES, ...ODD_NAMES]) },
  { weight: 1, arbitrary: fc.string({ maxLength: 12, unit: 'binary' }) },
);

export const rowId = fc.oneof({ weight: 16, arbitrary: pick(IDS) }, { weight: 2, arbitrary: name }, { weight: 1, arbitrary: fc.string({ maxLength: 140 }) });

/** JSON scalar texts at the edges. */
export const EDGE_SCALARS = [
  '0', '-0', '1', '-1', '1.5', '1e308', '-1e308', '1e400', '-1e400', '1e-400', '5e-324', '9007199254740993', '123456789012345678901234567890', '0.1',
  'true', 'false', 'null', '""', '"NaN"', '"Infinity"', '"-Infinity"', '"-0"', '"1e999"', '"0x1F"', '" 1 "', '"true"', '"null"', '"undefined"',
  '"\\ud83d"', '"a\\udc00b"', '"\\ud83d\\ude00"', '"\\u0000"', '"\\u2028\\u2029"', '"<script>alert(1)</script>"', `"' OR 1=1 --"`, '"; DROP TABLE notes; --"',
  '"2025-01-01T00:00:00Z"', '"2025-13-45T99:99:99Z"', '"todo"', '"done"', '"DONE"', '"n1"', '"t1"',
];

/** `{"a":{"a":…}}` or `[[…]]` nested `depth` levels. */
export function nestText(depth: number, kind: 'object' | 'array' = 'object'): string {
  return kind === 'object' ? '{"a":'.repeat(depth) + '1' + '}'.repeat(depth) : '['.repeat(depth) + ']'.repeat(depth);
}

const deep = fc
  .tuple(fc.oneof({ weight: 5, arbitrary: fc.integer({ min: 60, max: 70 }) }, { weight: 1, arbitrary: pick([200, 2049, 10_000]) }), pick(['object', 'array'] as const))
  .map(([d, k]) => nestText(d, k));

const bigString = pick([20_000, 300_000, 1_200_000]).map((n) => `"${'x'.repeat(n)}"`);

export const scalarText = fc.oneof(
  { weight: 6, arbitrary: pick(EDGE_SCALARS) },
  { weight: 4, arbitrary: fc.jsonValue({ maxDepth: 0 }).map((v) => JSON.stringify(v)) },
  { weight: 2, arbitrary: fc.string({ maxLength: 20, unit: 'binary' }).map((s) => JSON.stringify(s)) },
  { weight: 1, arbitrary: fc.double().map((d) => (Number.isFinite(d) ? String(d) : '1e999')) },
);

/** Any JSON value as text (well-formed JSON syntax; anything inside). */
export const valueText: fc.Arbitrary<string> = fc.letrec<{ value: string; array: string; object: string }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    { weight: 8, arbitrary: scalarText },
    { weight: 2, arbitrary: tie('array') },
    { weight: 3, arbitrary: tie('object') },
    { weight: 1, arbitrary: deep },
  ),
  array: fc.array(tie('value'), { maxLength: 4 }).map((xs) => `[${xs.join(',')}]`),
  object: fc.array(fc.tuple(name, tie('value')), { maxLength: 4 }).map((ps) => objText(ps)),
})).value;

/** Rarely: an oversize string (over the 1 MiB body and frame limits at the top end). */
export const valueOrBig = fc.oneof({ weight: 60, arbitrary: valueText }, { weight: 1, arbitrary: bigString });

/** Text that is not JSON, or JSON of the wrong shape for a body. */
export const garbageText = pick([
  '', '{', '}', '[', 'nul', '{"a":}', '{"a" 1}', "{'a':1}", '\u0000', 'undefined', 'NaN', '{"a":1,}', '[1,]', '"unterminated', '{"__proto__":{"polluted":1}}',
  '[]', '1', '"string"', 'null', 'true', '{"constructor":{"prototype":{"x":1}}}', '\ufeff{}', '{"a":1}{"b":2}', ' '.repeat(100), '{"a":"\\x41"}',
]);

/** `{ k: v, … }` from key and value texts (keys are escaped, so lone surrogates go out as \\uXXXX). */
export function objText(pairs: ReadonlyArray<readonly [string, string]>): string {
  return `{${pairs.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`;
}

/** Each named part: usually a well-typed text, sometimes any value, sometimes absent; plus an unknown key now and then. */
export function shaped(parts: Record<string, fc.Arbitrary<string>>, required: readonly string[] = []): fc.Arbitrary<string> {
  const entries = Object.entries(parts).map(([k, good]) =>
    fc
      .oneof(
        { weight: 40, arbitrary: good.map((v) => [k, v] as const) },
        { weight: 1, arbitrary: valueText.map((v) => [k, v] as const) },
        { weight: required.includes(k) ? 1 : 12, arbitrary: fc.constant(null) },
      ),
  );
  const extra = fc.oneof({ weight: 30, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.tuple(name, valueText).map(([k, v]) => [k, v] as const) });
  return fc.tuple(fc.tuple(...entries), extra).map(([es, x]) => objText([...es, x].filter((e): e is readonly [string, string] => e !== null)));
}

const str = (a: fc.Arbitrary<string>) => a.map((s) => JSON.stringify(s));

/** Field values that are mostly valid for the fuzz schema. */
const goodField: Record<string, fc.Arbitrary<string>> = {
  title: str(fc.oneof(fc.string({ minLength: 1, maxLength: 30 }), pick(['x', 'A\u{1F600}B', '<b>', "'; --"]))),
  body: str(fc.string({ maxLength: 40, unit: 'binary' })),
  n: fc.oneof(fc.integer().map(String), pick(['1.5', '1e400', '"3"', '9007199254740993'])),
  score: fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }).map((d) => String(d)), pick(['1e308', '-0'])),
  done: fc.oneof(fc.boolean().map(String), pick(['"true"', '0'])),
  status: str(pick(['todo', 'doing', 'done', 'DONE', ''])),
  at: str(pick(['2025-01-01T00:00:00Z', '2025-01-01', 'not a date', '2025-01-01T00:00:00.123456789Z'])),
  meta: valueOrBig,
  tags: fc.array(str(fc.string({ maxLength: 8 })), { maxLength: 4 }).map((xs) => `[${xs.join(',')}]`),
  projectId: str(pick(['p1', 'p2', '', 'p:{x}'])),
  estimate: fc.oneof(fc.integer({ min: -5, max: 100 }).map(String), pick(['null', '1.5'])),
};

/** A `data` object: known fields with mostly valid values, sometimes unknown or proto-named keys. */
const dataFields: fc.Arbitrary<string[]> = fc.oneof(
  { weight: 3, arbitrary: fc.subarray(['body', 'n', 'score', 'done', 'status', 'at', 'meta', 'tags'], { maxLength: 3 }).map((xs) => ['title', ...xs]) },
  { weight: 1, arbitrary: fc.constant(['title', 'projectId']).map((xs) => [...xs]) },
  { weight: 1, arbitrary: fc.subarray(FIELD_NAMES, { maxLength: 5 }) },
);

export const dataText = fc
  .tuple(
    dataFields.chain((fields) => fc.tuple(...fields.map((f) => fc.tuple(fc.constant(f), fc.oneof({ weight: 20, arbitrary: goodField[f]! }, { weight: 1, arbitrary: valueText }))))),
    fc.oneof({ weight: 12, arbitrary: fc.constant([] as Array<[string, string]>) }, { weight: 1, arbitrary: fc.array(fc.tuple(name, valueText), { minLength: 1, maxLength: 2 }) }),
  )
  .map(([known, extra]) => objText([...known, ...extra]));

const modelText = fc.oneof({ weight: 12, arbitrary: str(pick(MODEL_NAMES)) }, { weight: 1, arbitrary: str(name) });
const idText = str(rowId);
const readAtText = fc.oneof({ weight: 8, arbitrary: fc.nat({ max: 50 }).map(String) }, { weight: 1, arbitrary: pick(['-1', '1.5', '1e400', '"3"', '9007199254740993']) });
const onStaleText = fc.oneof({ weight: 8, arbitrary: str(pick(['reject', 'overwrite', 'notify'])) }, { weight: 1, arbitrary: str(pick(['maybe', 'REJECT'])) });

export const operationText = fc.oneof(
  { weight: 6, arbitrary: shaped({ op: fc.constant('"create"'), model: modelText, id: idText, data: dataText }, ['op', 'model', 'data']) },
  { weight: 5, arbitrary: shaped({ op: fc.constant('"update"'), model: modelText, id: idText, data: dataText, readAt: readAtText, onStale: onStaleText }, ['op', 'model', 'id', 'data']) },
  { weight: 2, arbitrary: shaped({ op: fc.constant('"delete"'), model: modelText, id: idText, readAt: readAtText, onStale: onStaleText }, ['op', 'model', 'id']) },
  { weight: 1, arbitrary: shaped({ op: str(name), model: modelText, id: idText, data: dataText }, ['op']) },
);

const readText = fc.oneof(
  shaped({ model: modelText, id: idText, readAt: readAtText, fields: fc.array(str(name), { maxLength: 3 }).map((xs) => `[${xs.join(',')}]`), onStale: onStaleText }, ['model', 'id', 'readAt']),
  shaped({ group: str(pick(['default', 'project:p1', '', 'x'.repeat(300)])), readAt: readAtText, onStale: onStaleText }, ['group', 'readAt']),
);

const idemText = fc.oneof({ weight: 6, arbitrary: str(fc.uuid()) }, { weight: 3, arbitrary: str(pick(['k1', 'k2', 'k3', 'import_1'])) }, { weight: 1, arbitrary: str(pick(['', 'x'.repeat(300)])) });

export const commitText = shaped(
  {
    operations: fc.array(operationText, { minLength: 1, maxLength: 3 }).map((xs) => `[${xs.join(',')}]`),
    reads: fc.array(readText, { maxLength: 2 }).map((xs) => `[${xs.join(',')}]`),
    idempotencyKey: idemText,
    label: str(fc.string({ maxLength: 10 })),
    ageMs: readAtText,
  },
  ['operations'],
);

export const createText = shaped({ data: dataText, id: fc.oneof(idText, str(fc.uuid())) }, ['data']);
export const updateText = shaped({ data: dataText, readAt: readAtText, onStale: onStaleText }, ['data']);
export const deleteText = shaped({ readAt: readAtText, onStale: onStaleText });
export const claimText = shaped({
  wait: fc.constant('false'),
  leaseSeconds: fc.oneof(fc.integer({ min: -5, max: 400 }).map(String), pick(['1.5', '"30"', '1e400'])),
  action: str(fc.string({ maxLength: 300 })),
  maxQueueDepth: fc.integer({ min: -1, max: 5 }).map(String),
  waitSeconds: pick(['0', '0.01', '-1', '"1"']),
}, ['wait']);
export const keyText = shaped({ name: str(fc.oneof(fc.string({ maxLength: 20 }), pick(PROTO_NAMES))), mode: str(pick(['test', 'live', 'prod'])) });

/** A field descriptor, valid or not. */
const descriptorText = fc.oneof(
  pick([
    '{"type":"string","optional":true}',
    '{"type":"number","optional":true,"checks":[{"kind":"int","format":"safeint"}]}',
    '{"type":"json","optional":true}',
    '{"type":"boolean","default":false}',
    '{"type":"enum","values":["a","b"],"optional":true}',
    '{"type":"lol"}',
    '{"type":"enum","values":[]}',
    '{"type":"string","checks":[{"kind":"format","format":"constructor","pattern":"(","flags":"z"}]}',
    '{"type":"string","checks":[{"kind":"regex","pattern":"(a+)+$","flags":""}],"optional":true}',
    '{"type":"string","default":"x","optional":true,"nullable":true}',
    `{"type":"array","items":${'{"type":"array","items":'.repeat(40)}{"type":"string"}${'}'.repeat(40)},"optional":true}`,
    '{"type":"object","fields":{"__proto__":{"type":"string"}},"unknownKeys":"strip","optional":true}',
    '{"type":"record","values":{"type":"json"},"optional":true}',
  ]),
  valueText,
);

/** A schema push body: `base` plus additions. dryRun most of the time; never allowDestructive, so the fuzz keeps its models. */
export const schemaPushText = (base: { models: Record<string, unknown> }): fc.Arbitrary<string> => fc
  .tuple(
    fc.array(fc.tuple(name, descriptorText), { maxLength: 2 }),
    fc.oneof({ weight: 4, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.tuple(name, pick(['hasMany', 'belongsTo', 'x']), name, name) }),
    fc.oneof({ weight: 4, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: pick(['{constructor}', '{title}', '', 'g:{id}', '{__proto__}']) }),
    fc.oneof({ weight: 5, arbitrary: fc.constant('true') }, { weight: 1, arbitrary: fc.constant('false') }, { weight: 1, arbitrary: valueText }),
    fc.oneof({ weight: 6, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: valueText }),
    fc.oneof({ weight: 8, arbitrary: pick(['notes', 'tasks']) }, { weight: 2, arbitrary: name }),
  )
  .map(([extraFields, rel, group, dryRun, garbage, target]) => {
    // The current schema with additions: extra fields on one model, maybe a relation or a sync group.
    const models = JSON.parse(JSON.stringify(base.models)) as Record<string, any>;
    const m = Object.prototype.hasOwnProperty.call(models, target) ? models[target] : { fields: {}, relations: {}, options: {} };
    let modelText = JSON.stringify(m);
    const fieldParts = extraFields.map(([k, d]) => `${JSON.stringify(k)}:${d}`);
    if (fieldParts.length) modelText = modelText.replace(/^\{"fields":\{/, `{"fields":{${fieldParts.join(',')}${Object.keys(m.fields).length ? ',' : ''}`);
    if (rel) modelText = modelText.replace(/"relations":\{/, `"relations":{${JSON.stringify(rel[0])}:{"kind":${JSON.stringify(rel[1])},"model":${JSON.stringify(rel[2])},"foreignKey":${JSON.stringify(rel[3])}}${Object.keys(m.relations).length ? ',' : ''}`);
    if (group !== null) modelText = modelText.replace(/"options":\{/, `"options":{"syncGroupFormat":[${JSON.stringify(group)}]${Object.keys(m.options).length ? ',' : ''}`);
    const others = Object.entries(models).filter(([k]) => k !== target).map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`);
    const schemaText = `{"formatVersion":1,"models":{${[...others, `${JSON.stringify(target)}:${modelText}`].join(',')}}}`;
    return objText([['schema', garbage ?? schemaText], ['dryRun', dryRun]]);
  });

/** Query strings for list: where / orderBy / limit / startingAfter and strays. */
export const listQuery = fc
  .array(
    fc.oneof(
      fc.tuple(name.map((n) => `where[${n}]`), fc.oneof(pick(['x', 'null', 'true', '1', '1e400', 'NaN', '', 'todo', 'n1']), fc.string({ maxLength: 10, unit: 'binary' }))),
      fc.tuple(fc.constant('where'), fc.oneof(valueText, fc.tuple(name, scalarText).map(([k, v]) => objText([[k, v]])), garbageText)),
      fc.tuple(name.map((n) => `orderBy[${n}]`), pick(['asc', 'desc', 'up', ''])),
      fc.tuple(fc.constant('orderBy'), fc.tuple(name, pick(['asc', 'desc', 'sideways', ''])).map(([n, d]) => `${n}:${d}`)),
      fc.tuple(fc.constant('limit'), pick(['1', '0', '-1', '1000', '1001', '1.5', '1e400', 'NaN', '', 'ten', '9007199254740993'])),
      fc.tuple(fc.constant('startingAfter'), rowId),
      fc.tuple(name, fc.string({ maxLength: 5 })),
    ),
    { maxLength: 4 },
  )
  .map((pairs) => pairs.map(([k, v]) => `${encodeURIComponentSafe(k)}=${encodeURIComponentSafe(v)}`).join('&'));

export const changesQuery = fc
  .array(fc.tuple(pick(['after', 'limit', 'x']), pick(['0', '1', '-1', '1.5', '10000', '10001', '1e400', 'NaN', '', '9007199254740993', '99999999'])), { maxLength: 3 })
  .map((pairs) => pairs.map(([k, v]) => `${k}=${encodeURIComponentSafe(v)}`).join('&'));

/** Percent-encoding that does not throw on lone surrogates (they become invalid UTF-8 bytes, or a raw % now and then). */
export function encodeURIComponentSafe(s: string): string {
  let out = '';
  for (const c of s) {
    try {
      out += encodeURIComponent(c);
    } catch {
      out += '%ED%A0%BD';
    }
  }
  return out;
}
