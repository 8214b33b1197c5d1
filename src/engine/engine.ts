/**
 * `createEngine`: one Node process serving the HTTP API and WebSocket sync on
 * one port, over a storage adapter (SQLite by default).
 *
 * Services are built in dependency order, each from the ones before it:
 * storage (and its change feed) → commit batcher → schema service → commit
 * pipeline → claims → sync server → HTTP. The feed's consumers (claims,
 * fanout, the `commit` event) subscribe once their service exists.
 */
import { EventEmitter } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { abloError, AbloServerError, AbloValidationError } from '../errors.js';
import { generateOpenApi } from '../codegen/openapi.js';
import type { CompiledSchema } from '../schema/compile.js';
import type { SerializedSchema } from '../schema/descriptor.js';
import { serializeSchema } from '../schema/serialize.js';
import type { SchemaLike } from '../schema/types.js';
import { packageVersion } from '../version.js';
import { ApiKeyAuthenticator, createApiKey, hashApiKey, isApiKeyShape } from './apiKeys.js';
import { Guard } from './auth/guard.js';
import { RateLimiter, type RateLimitOptions } from './auth/rateLimits.js';
import { RevocationWatcher } from './auth/revocations.js';
import { SessionAuthenticator } from './auth/sessions.js';
import type { Authenticator, Principal } from './auth/principal.js';
import { ClaimManager } from './claims.js';
import { PostgresClaimStore } from './claims/postgres.js';
import type { ClaimStore } from './claims/store.js';
import { CommitBatcher, CommitPipeline } from './commit.js';
import { DrainState, type Readiness } from './drain.js';
import { answerClientError, createHttpHandler, refuseUpgrade, type HttpContext } from './http.js';
import { originPolicy, type OriginPolicy } from '../http/origins.js';
import { httpClaimCheck } from './routes/claims.js';
import { engineRoutes, mountRoutes, type EngineRoute } from './routes/index.js';
import { SchemaService, type PushOptions, type PushResult } from './schemaService.js';
import { SchemaWaits } from './schemaWaits.js';
import { createPostgresStorage, PostgresStorage } from './storage/postgres.js';
import { createSqliteStorage } from './storage/sqlite.js';
import type { SourcesConfig } from './source/config.js';
import { checkSources, SourceService, type SourceStatus } from './source/service.js';
import { sourceRoutes } from './routes/source.js';
import { Pruner, resolveRetention, type RetentionOptions, type RetentionSettings } from './retention.js';
import type { ApiKeyRecord, ChangeFeed, PruneResult, Storage } from './storage/types.js';
import { SyncServer, type SyncEvent } from './sync.js';
import { CLOSE_CODES } from '../protocol/sync.js';
import { claimsPlugin } from './sync/claims.js';
import { presencePlugin } from './sync/presence.js';
import { resolvePresenceOptions, type PresenceOptions, type PresenceSettings } from './presence/options.js';
import { PostgresPresenceBridge } from './presence/postgres.js';
import { PresenceService } from './presence/service.js';

export interface EngineOptions {
  /** Storage adapter; default: SQLite at `file`. */
  storage?: Storage;
  /** SQLite file when no storage is given (default `.ablo/dev.db`). */
  file?: string;
  /** Postgres connection string: the engine runs on Postgres instead of the SQLite `file` (also ABLO_DATABASE_URL). */
  databaseUrl?: string;
  /** Pushed at start. Safe changes apply; others need `allowDestructive`. */
  schema?: SchemaLike | SerializedSchema;
  allowDestructive?: boolean;
  /** Interface to bind (default 127.0.0.1, loopback only). */
  host?: string;
  /** Port (default 4100; 0 picks a free one). */
  port?: number;
  /**
   * Make sure this API key exists (e.g. the one in `.env.local`). Without it, the first start of a database with
   * no keys makes one (`engine.devKey`); `false` never makes one (production: `ablo keys create --live`).
   */
  devKey?: string | false;
  /** Largest HTTP body (default 1 MiB). */
  maxBodyBytes?: number;
  /** Largest WebSocket frame from a client (default 1 MiB). */
  maxFrameBytes?: number;
  /** Bytes queued to one WebSocket client (live changes, bootstrap and catch-up frames) before it must resync (default 16 MiB). */
  maxBufferedBytes?: number;
  /** How long a bootstrap or catch-up waits for a client that takes no data before it must resync (default 15 s). */
  stallTimeoutMs?: number;
  heartbeatMs?: number;
  /** Time a new WebSocket has to send its hello frame (default 10 s). */
  helloTimeoutMs?: number;
  /** Where internal errors are written (default: stderr). */
  log?: (line: string) => void;
  /**
   * Who may do what (src/engine/auth/principal.ts): asked once per HTTP
   * request, WebSocket connection and `/mcp` request. Default: API keys over
   * the storage (every group, every operation).
   */
  authenticator?: Authenticator;
  /**
   * Extra routes, served after the engine's own: a route (`{ method, path, auth?, handler }`) or a
   * mount that gets a `RouteHost` (the engine's URL, key checks, key revocations), e.g. `mcpRoutes()`
   * from `ablo/mcp` for `/mcp`. The engine itself serves no `/mcp`.
   */
  routes?: readonly EngineRoute[];
  /**
   * How long the change log and the idempotency records are kept (see
   * src/engine/retention.ts and docs/engine.md "Retention"): change log 7
   * days, idempotency 24 h (client transactions older than that are refused
   * with `idempotency_expired`), pruned every 10 minutes.
   */
  retention?: RetentionOptions;
  /**
   * Browser origins allowed to call the engine (src/http/origins.ts): exact origins (`https://app.example.com`),
   * a port wildcard (`http://localhost:*`), or `'*'` (every origin, only when given). An allowed origin gets
   * `access-control-allow-origin: <that origin>` and `vary: origin`; others get no CORS headers, a 403 preflight,
   * and WebSocket upgrades refused with 403. Default: none (no cross-origin browser access). Requests without an
   * `Origin` header (servers, the CLI, Node clients) are not affected. See docs/engine.md "Browsers and CORS".
   */
  cors?: { origins: readonly string[] };
  /**
   * Rate limits per credential (src/engine/auth/rateLimits.ts): commits per second (token bucket with a burst)
   * and sync connections open at once. Default: on for session tokens and restricted keys (20 commits/s, burst
   * 40, 10 connections), off for secret keys; `kinds` says which credentials are limited, `false` turns them off.
   * Counted per engine process. Over a limit: 429 `rate_limited` with `Retry-After` (docs/auth.md "Rate limits").
   */
  rateLimits?: RateLimitOptions | false;
  /**
   * Data Source mode (docs/data-source.md): models whose system of record is the app's own backend. Each
   * source names its models, its endpoint (`url`; absent: it dials in through `createSourceConnector`) and
   * its `whsec_…` signing secret(s). Commits to those models go to the source first; external writes come
   * back as its events.
   */
  sources?: SourcesConfig;
  /**
   * Presence (docs/presence.md): how long a member whose connections all dropped stays (`reconnecting`) before it
   * leaves (`ttlMs`, default 30 s), and the caps: `maxStateBytes` (4096, at most 6144), `maxKeys` (32),
   * `maxUpdatesPerSecond` per connection (30), `maxMembersPerGroup` (500). On Postgres, every engine process of
   * the database sees the others' members.
   */
  presence?: PresenceOptions;
}

export interface EngineSources {
  names(): string[];
  /** Rejects with `source_unavailable` when a source is still not ready after `timeoutMs` (default 30 s). */
  ready(timeoutMs?: number): Promise<void>;
  pull(name: string): Promise<void>;
  health(): Record<string, SourceStatus>;
}

export interface EngineCommitEvent {
  changes: number;
  lastSyncId: number;
  models: string[];
}

export interface Engine {
  /** `http://host:port` */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  /** A key created on this start (first start of an empty database); shown once, stored hashed. */
  readonly devKey: string | undefined;
  readonly storage: Storage;
  readonly version: string;
  /** Claims (advisory row leases with a FIFO queue), held in memory by this process. */
  /** Row claims: the memory store on SQLite, `PostgresClaimStore` on Postgres (both the `ClaimStore` port). */
  readonly claims: ClaimStore;
  /** Current compiled schema, or null before the first push. */
  schema(): CompiledSchema | null;
  /** The presence settings in force (defaults filled in). */
  readonly presence: PresenceSettings;
  /**
   * Data Source mode (`options.sources`), or null: `ready()` resolves once every source finished its start-up
   * work (journaled commits, reconcile, first events pull); `pull(name)` pulls a source's events now.
   */
  readonly sources: EngineSources | null;
  push(schema: unknown, options?: PushOptions): Promise<PushResult>;
  lastSyncId(): number;
  connections(): number;
  /**
   * Counters since start: commits applied, storage transactions (group commit
   * shares them), changes written; rows and change-log entries read for
   * bootstraps, catch-ups and the changes feed.
   */
  stats(): { commits: number; transactions: number; changes: number; rowsRead: number; changesRead: number; originsRefused: number };
  /** `{ ready: true }` while the storage is open and the engine takes work; else why not (`GET /v1/ready`). */
  readiness(): Readiness;
  /**
   * Graceful stop: readiness goes false at once; new HTTP requests and sockets get 503 `draining` (health and
   * readiness still answer) and new commit frames the `draining` error; commits already queued finish and their
   * receipts are sent; HTTP requests being answered finish; then every socket is closed with 4006
   * (`engine_draining`: the SDK reconnects at once, to its next URL) and the engine closes (storage last).
   */
  drain(): Promise<void>;
  /** The retention settings in force (defaults filled in). */
  readonly retention: RetentionSettings;
  /** Prune the change log and the idempotency records now, as the retention timer does. */
  prune(): Promise<PruneResult>;
  /** `commit` after each durable storage transaction; `connect` / `disconnect` for sync clients. */
  on(event: 'commit', listener: (e: EngineCommitEvent) => void): () => void;
  on(event: 'connect' | 'disconnect', listener: (e: SyncEvent) => void): () => void;
  close(): Promise<void>;
}

const EMPTY_SCHEMA: SerializedSchema = { formatVersion: 1, hash: '', models: {} };

interface WritePath {
  storage: Storage;
  feed: ChangeFeed;
  batcher: CommitBatcher;
  schemaService: SchemaService;
  pipeline: CommitPipeline;
}

/** The storage when none is given: Postgres at `databaseUrl` (or ABLO_DATABASE_URL), else SQLite at `file`. */
function defaultStorage(options: EngineOptions): Storage {
  const url = options.databaseUrl ?? (process.env.ABLO_DATABASE_URL || undefined);
  if (url) return createPostgresStorage({ url, ...(options.log ? { log: options.log } : {}) });
  return createSqliteStorage({ file: options.file ?? '.ablo/dev.db' });
}

/**
 * The storage, opened, and the write path over it: the batcher (commits and
 * exclusive jobs; schema pushes run between transactions), the schema
 * service (loaded, with `options.schema` pushed) and the commit pipeline.
 * Closes the storage when it fails.
 */
async function openWritePath(options: EngineOptions, retention: RetentionSettings): Promise<WritePath> {
  const storage = options.storage ?? defaultStorage(options);
  await storage.open();
  const batcher = new CommitBatcher({ storage });
  const schemaService = new SchemaService(storage, batcher);
  const pipeline = new CommitPipeline({ batcher, schema: schemaService, feed: storage.feed, idempotencyWindowMs: retention.idempotencyMs });
  try {
    await schemaService.load();
    if (options.schema) {
      const serialized = serializeSchema(options.schema);
      const result = await schemaService.push(serialized, { allowDestructive: options.allowDestructive ?? false });
      if (!result.applied && result.reason === 'needs_confirmation') {
        const lines = result.plan.changes.filter((c) => c.class !== 'safe').map((c) => `  [${c.class}] ${c.description}`);
        throw new AbloServerError(
          `The schema change needs confirmation:\n${lines.join('\n')}\nPass allowDestructive: true to apply it.`,
          { code: 'schema_needs_confirmation', plan: result.plan },
        );
      }
    }
  } catch (err) {
    await storage.close();
    throw err;
  }
  return { storage, feed: storage.feed, batcher, schemaService, pipeline };
}

/**
 * The claim store: in this process (the memory store) on SQLite; in the
 * database on Postgres, shared by every engine process there (its grants take
 * the storage's head row, so none lands between a commit's claim check and its
 * COMMIT). Grants read the row behind every queued commit; an explicit release
 * first lets its owner's queued commits land.
 */
async function openClaims(storage: Storage, schemaService: SchemaService, batcher: CommitBatcher, log: (line: string) => void): Promise<ClaimStore> {
  const common = {
    schema: () => schemaService.current(),
    readRow: (model: string, id: string) => batcher.exclusive(() => storage.getRow(model, id)),
    barrier: () => batcher.exclusive(async () => undefined),
  };
  if (storage instanceof PostgresStorage) {
    return PostgresClaimStore.open({ ...common, connectionString: storage.url, dbSchema: storage.schemaName, onError: (err) => log(`claims: ${err instanceof Error ? err.message : String(err)}`) });
  }
  return new ClaimManager(common);
}

/** The credential was revoked (not merely expired: an expired session token comes back with a new one). */
function credentialRevoked(guard: Guard, principal: Principal): boolean {
  try {
    guard.assertActive(principal);
    return false;
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    return code !== 'token_expired' && code !== 'credential_expired';
  }
}

/** `options.cors` checked: a bad origin pattern is an `invalid_option` error before anything opens. */
function corsPolicy(options: EngineOptions): OriginPolicy {
  try {
    return originPolicy(options.cors?.origins ?? []);
  } catch (err) {
    throw new AbloValidationError((err as Error).message, { code: 'invalid_option', field: 'cors.origins' });
  }
}

/** Listen on host:port; a port in use is a typed error. */
async function listen(server: Server, host: string, port: number): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      reject(
        err.code === 'EADDRINUSE'
          ? new AbloServerError(`Port ${port} on ${host} is already in use. Stop the other process or pick another port (--port).`, {
              code: 'address_in_use',
            })
          : err,
      );
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

/**
 * Wires the services in dependency order (see the top of this file). Kept as
 * one function over ~120 lines on purpose: it is the one place that shows
 * what depends on what; each service's logic lives in its own module.
 */
export async function createEngine(options: EngineOptions = {}): Promise<Engine> {
  const log = options.log ?? ((line: string) => process.stderr.write(`[ablo engine] ${line}\n`));
  const retention = resolveRetention(options.retention);
  const cors = corsPolicy(options);
  const presenceSettings = resolvePresenceOptions(options.presence);
  if (options.sources) checkSources(options.sources);
  const rateLimits = new RateLimiter(options.rateLimits ?? {});
  const { storage, feed, batcher, schemaService, pipeline } = await openWritePath(options, retention);
  const events = new EventEmitter();
  // Identity: API keys unless another authenticator is given; revoking a key (DELETE /v1/keys/:id) goes through `apiKeys`.
  // Session tokens (`ek_…`) are verified by `sessions`, every other credential by `apiKeys`.
  const apiKeys = new ApiKeyAuthenticator(storage);
  const sessions = options.authenticator ? undefined : new SessionAuthenticator(storage, apiKeys);
  try {
    await sessions?.open();
  } catch (err) {
    await storage.close();
    throw err;
  }
  const guard = new Guard(options.authenticator ?? sessions ?? apiKeys);
  // Data Source mode: commits to source models go to the app's backend first (src/engine/source/).
  const sources =
    options.sources && Object.keys(options.sources).length > 0
      ? new SourceService({
          sources: options.sources,
          batcher,
          storage,
          feed,
          schema: schemaService,
          guard,
          log,
          idempotencyWindowMs: retention.idempotencyMs,
          version: packageVersion(),
        })
      : null;
  if (sources) pipeline.routeWith((input) => sources.route(input));
  // Revocations made by other processes on the same database (and `ablo keys revoke` on it): poll, feed hint, write path.
  const revocations = new RevocationWatcher({ storage, apiKeys, sessions, log });
  try {
    await revocations.start();
  } catch (err) {
    await storage.close();
    throw err;
  }
  let claims: ClaimStore;
  try {
    claims = await openClaims(storage, schemaService, batcher, log);
  } catch (err) {
    revocations.stop();
    await storage.close();
    throw err;
  }
  // Presence: in this process; shared over LISTEN/NOTIFY with the other processes of a Postgres database.
  const presence = new PresenceService({
    settings: presenceSettings,
    ...(storage instanceof PostgresStorage
      ? {
          bridge: new PostgresPresenceBridge({
            connectionString: storage.url,
            dbSchema: storage.schemaName,
            ttlMs: presenceSettings.ttlMs,
            onError: (err) => log(`presence: ${err instanceof Error ? err.message : String(err)}`),
          }),
        }
      : {}),
  });
  try {
    await presence.start();
  } catch (err) {
    await claims.close();
    revocations.stop();
    await storage.close();
    throw err;
  }
  // A batch's claim checks read the claims of its rows at once (inside its transaction, which no grant can pass).
  const claimStore = claims;
  if (claimStore.readAhead && claimStore.endReadAhead) {
    batcher.readAheadWith({ start: (rows) => claimStore.readAhead!(rows), end: () => claimStore.endReadAhead!() });
  }

  // Keys: the first start of an empty database makes a dev key and hands it back once.
  let devKey: string | undefined;
  if (options.devKey === false) {
    // Production: keys are made with `ablo keys create --live`.
  } else if (options.devKey) {
    // The dev key is a secret key: a restricted key has no scope to be made with here.
    if (!isApiKeyShape(options.devKey) || !options.devKey.startsWith('sk_')) {
      revocations.stop();
      await storage.close();
      throw new AbloValidationError('devKey must look like sk_test_ followed by 32 letters and digits.', { code: 'invalid_option', field: 'devKey' });
    }
    if (!(await storage.findApiKeyByHash(hashApiKey(options.devKey)))) {
      await createApiKey(storage, { key: options.devKey, name: 'dev' });
      devKey = options.devKey;
    }
  } else if ((await storage.countApiKeys()) === 0) {
    devKey = (await createApiKey(storage, { name: 'dev' })).key;
  }

  const sync = new SyncServer({
    storage,
    pipeline,
    schema: schemaService,
    ...(options.maxFrameBytes !== undefined ? { maxFrameBytes: options.maxFrameBytes } : {}),
    ...(options.maxBufferedBytes !== undefined ? { maxBufferedBytes: options.maxBufferedBytes } : {}),
    ...(options.stallTimeoutMs !== undefined ? { stallTimeoutMs: options.stallTimeoutMs } : {}),
    ...(options.heartbeatMs !== undefined ? { heartbeatMs: options.heartbeatMs } : {}),
    ...(options.helloTimeoutMs !== undefined ? { helloTimeoutMs: options.helloTimeoutMs } : {}),
    guard,
    rateLimits,
    plugins: [
      claimsPlugin({ claims, schema: () => schemaService.current(), getRow: (model, id) => storage.getRow(model, id) }),
      presencePlugin({ presence, revoked: (principal) => credentialRevoked(guard, principal) }),
    ],
    claimCheck: (_participant, connectionId) => (model, id) => claims.check(model, id, connectionId),
    onEvent: (e) => events.emit(e.type, e),
  });
  // Feed consumers, in this order for every durable batch: claims (a claimed row's groups), fanout, the `commit` event.
  const unsubscribe = [
    feed.subscribe((batch) => claims.noteChanges(batch.changes)),
    feed.subscribe((batch) => {
      if (batch.gap) sync.resyncAll(`the change feed skipped sync ids after ${batch.gap.after} (${batch.gap.reason})`);
      sync.broadcast(batch.changes);
    }),
    feed.subscribe(({ changes, lastSyncId }) => {
      if (events.listenerCount('commit') === 0) return;
      events.emit('commit', { changes: changes.length, lastSyncId, models: [...new Set(changes.map((c) => c.model))] } satisfies EngineCommitEvent);
    }),
  ];

  // Revocation: everyone holding something of the credential hears it at once, in this order: the guard (queued
  // commits are refused), sockets (the sync server subscribed when made), claims, then mounted routes (`/mcp` sessions).
  guard.onRevoked((e) => claims.releaseCredential(e.credentialId, e.error));

  let openapiCache: { hash: string; url: string; doc: Record<string, unknown> } | null = null;
  // Extra routes (e.g. `/mcp`): they see the engine's URL, credential checks and revocations, nothing else.
  let engineUrl = '';
  const mounted = mountRoutes(options.routes ?? [], {
    url: () => engineUrl,
    authenticate: (credential) => guard.authenticate(credential),
    onRevoked: (listener) => guard.onRevoked(listener),
    onSchemaChange: (listener) => schemaService.onChange((schema) => listener({ hash: schema.hash, version: schemaService.currentVersion() })),
    log,
  });
  // `GET /v1/schema?changedFrom=…` long-polls; ended when the engine drains or closes.
  const schemaWaits = new SchemaWaits(schemaService);
  const version = packageVersion();
  const drainState = new DrainState();
  const httpContext: HttpContext = {
    drain: drainState,
    storage,
    pipeline,
    schema: schemaService,
    schemaWaits,
    guard,
    version,
    maxBodyBytes: options.maxBodyBytes ?? 1024 * 1024,
    retention,
    connections: () => sync.connectionCount,
    openapi: (schema, serverUrl) => {
      const hash = schema?.hash ?? '';
      if (openapiCache && openapiCache.hash === hash && openapiCache.url === serverUrl) return openapiCache.doc;
      const doc = generateOpenApi(schema?.serialized ?? EMPTY_SCHEMA, { serverUrl, version });
      openapiCache = { hash, url: serverUrl, doc };
      return doc;
    },
    log,
    // The route table (src/engine/routes/), then the mounted routes.
    routes: [...engineRoutes(claims, presence), ...(sources ? sourceRoutes(sources) : []), ...mounted.routes],
    claimCheck: (_participant, headers) => httpClaimCheck(claims, headers),
    ...(sessions ? { sessions } : {}),
    onKeyRevoked: (key: ApiKeyRecord) => revocations.keyRevoked(key),
    cors,
    rateLimits,
  };

  // Upgrades from an origin not in `cors.origins`: refused before the socket opens, counted, logged once per origin.
  let originsRefused = 0;
  const originsLogged = new Set<string>();
  const refuseOrigin = (origin: string, socket: Duplex): void => {
    originsRefused++;
    if (originsLogged.size < 100 && !originsLogged.has(origin)) {
      originsLogged.add(origin);
      log(`refused a WebSocket upgrade from origin ${JSON.stringify(origin)}: not in the CORS origins (later refusals from it are only counted)`);
    }
    refuseUpgrade(socket, abloError('origin_not_allowed'));
  };
  const server: Server = createServer(createHttpHandler(httpContext));
  server.on('upgrade', (req, socket, head) => {
    const path = (req.url ?? '').split('?')[0]!.replace(/\/+$/, '');
    if (!cors.allows(req.headers.origin)) refuseOrigin(req.headers.origin!, socket);
    else if (path === '/v1/sync') sync.handleUpgrade(req, socket, head);
    else if (path === '/v1/source/connect' && sources?.hub) sources.hub.handleUpgrade(req, socket, head);
    else {
      socket.end('HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
    }
  });
  server.on('clientError', answerClientError);
  server.headersTimeout = 20_000;
  server.requestTimeout = 60_000;
  server.keepAliveTimeout = 5_000;

  const host = options.host ?? '127.0.0.1';
  try {
    await listen(server, host, options.port ?? 4100);
  } catch (err) {
    for (const off of unsubscribe) off();
    schemaWaits.close();
    await mounted.close();
    await sync.close();
    await presence.close();
    guard.close();
    rateLimits.close();
    revocations.stop();
    await storage.close();
    throw err;
  }
  const address = server.address() as AddressInfo;
  const urlHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  engineUrl = `http://${urlHost}:${address.port}`;

  drainState.markReady();
  sources?.start();
  const pruner = new Pruner(storage, retention, log);
  pruner.start();
  let closing: Promise<void> | null = null;
  let draining: Promise<void> | null = null;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      drainState.startDraining();
      schemaWaits.close();
      pruner.stop();
      await mounted.close();
      const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      await claims.close();
      await sync.close();
      await presence.close();
      sources?.close();
      guard.close();
      rateLimits.close();
      revocations.stop();
      await batcher.close();
      for (const off of unsubscribe) off();
      server.closeAllConnections();
      await serverClosed;
      await storage.close();
      drainState.markClosed();
    })();
    return closing;
  };
  return {
    url: `http://${urlHost}:${address.port}`,
    host,
    port: address.port,
    devKey,
    storage,
    version,
    claims,
    presence: presenceSettings,
    schema: () => schemaService.current(),
    sources: sources
      ? { names: () => sources.names(), ready: (timeoutMs) => sources.ready(timeoutMs), pull: (name) => sources.pull(name), health: () => sources.health() }
      : null,
    push: (schema, pushOptions) => schemaService.push(schema, pushOptions),
    lastSyncId: () => feed.head(),
    stats: () => ({ ...batcher.stats, ...storage.readStats(), originsRefused }),
    retention,
    prune: () => pruner.prune(),
    connections: () => sync.connectionCount,
    on(event: string, listener: (e: never) => void) {
      const fn = listener as (e: unknown) => void;
      events.on(event, fn);
      return () => events.off(event, fn);
    },
    readiness: () => drainState.readiness(),
    drain() {
      draining ??= (async () => {
        if (closing) return closing;
        drainState.startDraining();
        schemaWaits.close();
        sync.drain();
        // Commits queued before now (sockets' and HTTP's) land and are receipted; requests being answered finish.
        await batcher.idle();
        // Claim long-polls would hold the drain: they end now (their holders' sockets close below anyway).
        await claims.close();
        await drainState.idle();
        await batcher.idle();
        sync.closeAll(CLOSE_CODES.engine_draining, 'engine draining: reconnect to another engine');
        await close();
      })();
      return draining;
    },
    close,
  };
}
