/**
 * The CLI's HTTP client for the configured engine. The only network the CLI
 * ever does goes through here, to the one URL the settings resolved.
 *
 * Every failure becomes a `CliError` with a cause and a fix:
 * - nothing listening / DNS / timeout → `cannot reach the engine at <url>`;
 * - 401 → the key was refused, check ABLO_API_KEY / .env.local;
 * - any other error envelope → its message, type and code;
 * - a response that is not the engine's JSON → says so.
 */
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

export interface RequestOptions {
  /** Send the API key (default true). */
  auth?: boolean;
  body?: unknown;
  headers?: Record<string, string>;
  /** Milliseconds before giving up (default 30 s). */
  timeoutMs?: number;
  /** Called with the response headers of a successful request. */
  onHeaders?: (headers: Headers) => void;
}

export const UNREACHABLE_FIX = 'start it with `npx ablo dev` or set ABLO_URL';
export const BAD_KEY_FIX = 'check ABLO_API_KEY / .env.local (or pass --api-key); `ablo keys create` makes a new key';

export function targetFrom(config: Pick<ResolvedConfig, 'url' | 'apiKey'>): EngineTarget {
  return {
    url: config.url.value,
    urlFrom: describeOrigin(config.url),
    ...(config.apiKey ? { apiKey: config.apiKey.value, keyFrom: describeOrigin(config.apiKey as Setting<string>) } : {}),
  };
}

interface Envelope {
  error: { type?: string; code?: string; message?: string; [k: string]: unknown };
}

function isEnvelope(v: unknown): v is Envelope {
  return !!v && typeof v === 'object' && !!(v as Envelope).error && typeof (v as Envelope).error === 'object';
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

export class EngineClient {
  constructor(readonly target: EngineTarget) {}

  get url(): string {
    return this.target.url;
  }

  private unreachable(err: unknown, path: string): CliError {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    const code = cause?.code ?? (err as { code?: string }).code;
    const timedOut = (err as Error).name === 'TimeoutError' || (err as Error).name === 'AbortError';
    const why = timedOut ? 'no answer in time' : code ?? cause?.message ?? (err as Error).message;
    return new CliError(`cannot reach the engine at ${this.url} (${why})`, {
      type: 'connection_error',
      code: 'engine_unreachable',
      fix: `${UNREACHABLE_FIX}${this.target.urlFrom && this.target.urlFrom !== 'default' ? ` (the URL came from ${this.target.urlFrom})` : ''}`,
      details: { url: this.url, path, ...(code ? { errno: code } : {}) },
      cause: err,
    });
  }

  /** One request; returns the parsed JSON body. Throws CliError on any failure. */
  async request<T = unknown>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const auth = options.auth ?? true;
    if (auth && !this.target.apiKey) {
      throw new CliError(`no API key for the engine at ${this.url}`, {
        type: 'authentication_error',
        code: 'missing_api_key',
        fix: 'Set ABLO_API_KEY in .env.local (`ablo init` writes one, `ablo dev` prints it) or pass --api-key.',
      });
    }
    const headers: Record<string, string> = { accept: 'application/json', ...options.headers };
    if (auth) headers.authorization = `Bearer ${this.target.apiKey}`;
    let body: string | undefined;
    if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers['content-type'] = 'application/json';
    }
    let res: Response;
    try {
      res = await fetch(`${this.url}${path}`, {
        method,
        headers,
        ...(body !== undefined ? { body } : {}),
        signal: AbortSignal.timeout(options.timeoutMs ?? 30_000),
      });
    } catch (err) {
      throw this.unreachable(err, path);
    }
    let text: string;
    try {
      text = await res.text();
    } catch (err) {
      throw this.unreachable(err, path);
    }
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      throw new CliError(`the server at ${this.url} did not answer like an ablo engine (HTTP ${res.status} ${res.headers.get('content-type') ?? 'no content type'} on ${method} ${path})`, {
        type: 'connection_error',
        code: 'not_an_engine',
        fix: 'Check ABLO_URL (or --url): it must point at `ablo dev` or another ablo engine.',
        details: { url: this.url, status: res.status },
      });
    }
    if (res.ok) {
      options.onHeaders?.(res.headers);
      return parsed as T;
    }
    if (!isEnvelope(parsed)) {
      throw new CliError(`the server at ${this.url} answered HTTP ${res.status} to ${method} ${path} without an ablo error`, {
        type: 'connection_error',
        code: 'not_an_engine',
        fix: 'Check ABLO_URL (or --url): it must point at `ablo dev` or another ablo engine.',
        details: { url: this.url, status: res.status },
      });
    }
    const { type = 'server_error', code = 'unknown', message = `HTTP ${res.status}`, ...rest } = parsed.error;
    if (res.status === 401) {
      throw new CliError(`the engine at ${this.url} refused the API key${this.target.keyFrom ? ` from ${this.target.keyFrom}` : ''}: ${message}`, {
        type: 'authentication_error',
        code,
        fix: BAD_KEY_FIX,
        details: { url: this.url, status: 401 },
      });
    }
    throw new CliError(message, {
      type,
      code,
      fix: typeof rest.fix === 'string' ? rest.fix : FIX_BY_TYPE[type] ?? 'See the message above.',
      details: { ...rest, status: res.status },
    });
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
}

/** What `GET /v1/health` returns. */
export interface Health {
  ok: boolean;
  version: string;
  schemaHash: string | null;
  schemaVersion?: number;
  lastSyncId: number;
  connections?: number;
}

export function health(client: EngineClient, timeoutMs?: number): Promise<Health> {
  return client.get<Health>('/v1/health', { auth: false, ...(timeoutMs ? { timeoutMs } : {}) });
}
