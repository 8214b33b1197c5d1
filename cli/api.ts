/**
 * The CLI's access to the configured engine: the one engine client
 * (src/client/engineApi.ts) pointed at the one URL the settings resolved.
 * The only network the CLI ever does goes through here.
 *
 * Every failure (a typed `AbloError` from the client) becomes a `CliError`
 * with a cause and a fix:
 * - nothing listening / DNS / timeout → `cannot reach the engine at <url>`;
 * - 401 → the key was refused, check ABLO_API_KEY / .env.local;
 * - any other error envelope → its message, type and code;
 * - a response that is not the engine's JSON → says so.
 */
import { EngineApiClient, type CallOptions } from '../src/client/engineApi.js';
import { AbloError } from '../src/errors.js';
import type { Health } from '../src/protocol/api.js';
import type { ResolvedConfig, Setting } from './config.js';
import { describeOrigin } from './config.js';
import { CliError } from './errors.js';

export interface EngineTarget {
  url: string;
  /** Where the URL came from, for messages. */
  urlFrom?: string;
  apiKey?: string;
  /** Where the key came from, for messages. */
  keyFrom?: string;
}

/** Per request (the engine client's options); `timeoutMs` defaults to 30 s. */
export type RequestOptions = Pick<CallOptions, 'auth' | 'body' | 'headers' | 'timeoutMs' | 'onHeaders'>;

export const UNREACHABLE_FIX = 'start it with `npx ablo dev` or set ABLO_URL';
export const BAD_KEY_FIX = 'check ABLO_API_KEY / .env.local (or pass --api-key); `ablo keys create` makes a new key';

export function targetFrom(config: Pick<ResolvedConfig, 'url' | 'apiKey'>): EngineTarget {
  return {
    url: config.url.value,
    urlFrom: describeOrigin(config.url),
    ...(config.apiKey ? { apiKey: config.apiKey.value, keyFrom: describeOrigin(config.apiKey as Setting<string>) } : {}),
  };
}

const FIX_BY_TYPE: Record<string, string> = {
  validation_error: 'Correct the request as the message says and try again.',
  schema_error: 'Fix the schema as the message says, then run the command again.',
  permission_error: 'Use an API key that is allowed to do this.',
  not_found: 'Check the names and ids you passed.',
  rate_limit: 'Wait a moment and try again.',
  too_large: 'Send less at once.',
  server_error: 'Check the engine output (the `ablo dev` terminal) for details.',
};

const NOT_AN_ENGINE_FIX = 'Check ABLO_URL (or --url): it must point at `ablo dev` or another ablo engine.';

export class EngineClient {
  /** The one engine client; use it through `call` so failures read as CLI errors. */
  readonly api: EngineApiClient;

  constructor(readonly target: EngineTarget) {
    this.api = new EngineApiClient({ baseURL: target.url.split(','), ...(target.apiKey !== undefined ? { apiKey: target.apiKey } : {}), timeoutMs: 30_000 });
  }

  get url(): string {
    return this.target.url;
  }

  /** Calls of the engine client; throws CliError on any failure. `auth: false` for calls that need no key. */
  async call<T>(fn: (api: EngineApiClient) => Promise<T>, options: { auth?: boolean } = {}): Promise<T> {
    if ((options.auth ?? true) && !this.target.apiKey) {
      throw new CliError(`no API key for the engine at ${this.url}`, {
        code: 'missing_api_key',
        fix: 'Set ABLO_API_KEY in .env.local (`ablo init` writes one, `ablo dev` prints it) or pass --api-key.',
      });
    }
    try {
      return await fn(this.api);
    } catch (err) {
      throw err instanceof AbloError ? this.cliError(err) : err;
    }
  }

  /** One request by path; returns the parsed JSON body. Throws CliError on any failure. */
  request<T = unknown>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    return this.call((api) => api.request<T>(method, path, options), { auth: options.auth ?? true });
  }

  get<T = unknown>(path: string, options?: RequestOptions): Promise<T> {
    return this.request<T>('GET', path, options);
  }

  post<T = unknown>(path: string, body: unknown, options?: RequestOptions): Promise<T> {
    return this.request<T>('POST', path, { ...options, body });
  }

  delete<T = unknown>(path: string, options?: RequestOptions): Promise<T> {
    return this.request<T>('DELETE', path, options);
  }

  /** The client's typed error, worded for the terminal with a fix. */
  private cliError(err: AbloError): CliError {
    const d = err.details;
    if (err.type === 'connection_error' && err.code === 'unreachable') {
      const why = d.timedOut ? 'no answer in time' : (d.errno as string | undefined) ?? (d.reason as string | undefined) ?? err.message;
      return new CliError(`cannot reach the engine at ${this.url} (${why})`, {
        code: 'engine_unreachable',
        fix: `${UNREACHABLE_FIX}${this.target.urlFrom && this.target.urlFrom !== 'default' ? ` (the URL came from ${this.target.urlFrom})` : ''}`,
        details: { url: this.url, ...(d.path !== undefined ? { path: d.path } : {}), ...(d.errno ? { errno: d.errno } : {}) },
        cause: err,
      });
    }
    if (err.type === 'connection_error' && err.code === 'not_an_engine') {
      const where = `${String(d.method)} ${String(d.path)}`;
      const message =
        d.reason === 'not_json'
          ? `the server at ${this.url} did not answer like an ablo engine (HTTP ${String(d.status)} ${(d.contentType as string | null) ?? 'no content type'} on ${where})`
          : `the server at ${this.url} answered HTTP ${String(d.status)} to ${where} without an ablo error`;
      return new CliError(message, { code: 'not_an_engine', fix: NOT_AN_ENGINE_FIX, details: { url: this.url, status: d.status } });
    }
    if (err.type === 'authentication_error') {
      return new CliError(`the engine at ${this.url} refused the API key${this.target.keyFrom ? ` from ${this.target.keyFrom}` : ''}: ${err.message}`, {
        from: err,
        fix: BAD_KEY_FIX,
        details: { url: this.url, status: 401 },
      });
    }
    const { code: _code, ...rest } = d;
    return new CliError(err.message, {
      from: err,
      fix: typeof rest.fix === 'string' ? rest.fix : FIX_BY_TYPE[err.type] ?? 'See the message above.',
      details: { ...rest, status: err.status },
    });
  }
}

/** What `GET /v1/health` returns (src/protocol/api.ts). */
export type { Health };

export function health(client: EngineClient, timeoutMs?: number): Promise<Health> {
  return client.call((api) => api.health(timeoutMs ? { timeoutMs } : {}), { auth: false });
}
