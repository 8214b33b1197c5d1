/**
 * The shape of an engine route: a method, a path pattern and a handler. The
 * engine's own routes (one module per resource in this folder) and the extra
 * routes an embedder mounts (`createEngine({ routes })`, e.g. `/mcp` from
 * `ablo/mcp`) are the same kind of thing, dispatched by src/engine/http.ts.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ParticipantRef } from '../../protocol/commit.js';
import type { HttpContext } from '../http.js';
import type { Actor, CredentialRevoked, Principal } from '../auth/principal.js';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** Reading a JSON body (src/protocol/json.ts limits). */
export interface JsonBodyOptions {
  /** Levels of the body around a field value; default: a commit's. */
  envelope?: number;
  /** Levels a field value may nest; default `MAX_JSON_DEPTH`. */
  maxDepth?: number;
}

/** What an open route's handler gets for one request. */
export interface OpenRouteRequest {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  method: string;
  /** The `:name` segments of the route's path, decoded. */
  params: Record<string, string>;
  /** The body as JSON, checked once (nesting, lone surrogates); `required`: an empty body is an error. */
  json(required: boolean, options?: JsonBodyOptions): Promise<unknown>;
}

/** What an authenticated route's handler gets: the request, and who made it. */
export interface RouteRequest extends OpenRouteRequest {
  /** Who asks, as the engine's authenticator answered; the route's operation was checked already (auth/guard.ts). */
  principal: Principal;
  /**
   * Who writes: the principal's own participant, acting for the one the
   * `Ablo-Participant` header names (a bad header is a 400, one the principal
   * may not act for a 403), and the credential. Commits record all of it.
   */
  actor(): Actor;
  /** Who acts (claims): the participant the header names, or the principal's own (`actingAs(actor())`). */
  participant(): ParticipantRef;
}

interface RouteShape {
  /** `'*'`: every method (the handler answers the ones it does not take). */
  method: HttpMethod | '*';
  /**
   * `/v1/models/:model/:id`: literal segments and `:name` parameters. Trailing
   * and doubled slashes in the request do not matter.
   */
  path: string;
}

/** A route behind an API key (the default): the engine authenticates before the handler runs. */
export interface KeyRoute extends RouteShape {
  auth?: 'key';
  handler(r: RouteRequest, ctx: HttpContext): Promise<void>;
}

/**
 * A route the engine serves without a key: public (health, the OpenAPI
 * document) or checking its own credentials (`/mcp`). Matched on the path as
 * sent, before anything else.
 */
export interface OpenRoute extends RouteShape {
  auth: 'none';
  handler(r: OpenRouteRequest, ctx: HttpContext): Promise<void>;
}

export type Route = KeyRoute | OpenRoute;

/** The schema the engine has now, after a change. */
export interface SchemaChanged {
  hash: string;
  version: number;
}

/** What a mounted set of routes may use of the engine (nothing of its internals). */
export interface RouteHost {
  /** The engine's own URL (`http://host:port`); empty until it listens. */
  url(): string;
  /** Check a bearer credential as every route does: its principal, or `AbloAuthenticationError` when it is missing, unknown, expired or revoked. */
  authenticate(credential: string | undefined): Promise<Principal>;
  /** Called when a credential is revoked (e.g. `DELETE /v1/keys/:id`); returns the unsubscribe function. */
  onRevoked(listener: (e: CredentialRevoked) => void): () => void;
  /**
   * Called after the engine's schema changed: a push through this process, or
   * one another process on the same database made (Postgres). Returns the
   * unsubscribe function.
   */
  onSchemaChange(listener: (e: SchemaChanged) => void): () => void;
  log(line: string): void;
}

/** Routes mounted with a host, and what to do when the engine closes. */
export interface RouteMount {
  routes: readonly Route[];
  /** Runs first when the engine closes (end sessions, streams). */
  close?(): Promise<void>;
}

/**
 * A mount: called once at engine start with the host. (`auth?: undefined` is
 * for TypeScript only: it lets a route literal without `auth` be told apart
 * from a mount, so its handler's `r` is typed.)
 */
export type RouteMounter = ((host: RouteHost) => RouteMount) & { readonly auth?: undefined };

/** `createEngine({ routes })`: a route, or a mount. */
export type EngineRoute = Route | RouteMounter;
