/**
 * The board's app server: serves the built app (examples/board/dist, made by
 * `vite build`) and mints a session token for the signed-in user.
 *
 *   GET  /api/config               → { engineUrl, boardId }
 *   POST /api/ablo-token?user=ana  → { token, expiresAt }  (also { "user": "ana" } as the JSON body)
 *   GET  /anything-else            → the built app (index.html for unknown paths)
 *
 * "Signed in" is a name from the query string or the body: enough for an
 * example. A real app takes the user from its own session cookie here and
 * never from the request. The secret key stays on this server; the page only
 * ever gets short-lived `ek_…` tokens for one participant and the board's
 * sync groups.
 */
import { readFile, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';
import Ablo from 'ablo';
import { schema } from './ablo.schema.js';

export interface BoardServerOptions {
  /** The engine the server mints tokens on (and that pages connect to unless they are told another address). */
  engineUrl: string;
  /** A secret key of that engine (`sk_…`): only a secret key may mint sessions. */
  apiKey: string;
  /** The built app (the Vite `outDir`). */
  staticDir: string;
  /** Port to listen on (0: a free one). */
  port?: number;
  /** The board pages open when the URL names none. */
  boardId?: string;
  /** Token lifetime in seconds (default 900). */
  ttlSeconds?: number;
}

export interface BoardServer {
  url: string;
  close(): Promise<void>;
}

/** Names a user may sign in as: no spaces, no `*` (a participant id never makes a wildcard). */
const USER_NAME = /^[A-Za-z0-9_.-]{1,40}$/;

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.json': 'application/json',
  '.map': 'application/json',
  '.ico': 'image/x-icon',
};

export async function startBoardServer(options: BoardServerOptions): Promise<BoardServer> {
  const boardId = options.boardId ?? 'launch';
  // A server-side client, for `sessions.create` only. It opens a socket too (every client does); the group
  // `server:none` holds no rows, so it receives nothing.
  const ablo = Ablo({ schema, apiKey: options.apiKey, baseURL: options.engineUrl, syncGroups: ['server:none'], logger: { warn: () => {} } });

  const json = (res: ServerResponse, status: number, body: unknown): void => {
    res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    res.end(JSON.stringify(body));
  };

  const mintToken = async (req: IncomingMessage, url: URL, res: ServerResponse): Promise<void> => {
    let user = url.searchParams.get('user');
    if (!user) {
      const text = await readBody(req);
      if (text) {
        try {
          user = (JSON.parse(text) as { user?: unknown }).user as string | null;
        } catch {
          return json(res, 400, { error: { type: 'validation_error', code: 'invalid_json', message: 'The body must be JSON like {"user":"ana"}.' } });
        }
      }
    }
    if (typeof user !== 'string' || !USER_NAME.test(user)) {
      return json(res, 400, {
        error: { type: 'validation_error', code: 'invalid_user', message: 'Sign in with a name of 1-40 letters, digits, ".", "_" or "-" (?user=ana).' },
      });
    }
    try {
      const session = await ablo.sessions.create({
        participant: { kind: 'user', id: user },
        // Every board: the page may switch boards without a new token.
        syncGroups: ['board:*'],
        operations: ['read', 'write', 'claim', 'presence'],
        ttlSeconds: options.ttlSeconds ?? 900,
      });
      json(res, 200, { token: session.token, expiresAt: session.expiresAt });
    } catch (err) {
      json(res, 502, { error: { type: 'api_error', code: 'token_failed', message: `The engine did not mint a token: ${(err as Error).message}` } });
    }
  };

  const serveFile = async (pathname: string, res: ServerResponse): Promise<void> => {
    const root = normalize(options.staticDir);
    let file = normalize(join(root, decodeURIComponent(pathname)));
    if (file !== root && !file.startsWith(root + sep)) return json(res, 404, { error: { code: 'not_found' } });
    const isFile = await stat(file).then((s) => s.isFile(), () => false);
    // The app routes on the client: every path that is not a file is the app.
    if (!isFile) file = join(root, 'index.html');
    try {
      const body = await readFile(file);
      res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' });
      res.end(body);
    } catch {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end(`The app is not built: run the Vite build into ${options.staticDir} first.\n`);
    }
  };

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const handle = async (): Promise<void> => {
      if (url.pathname === '/api/ablo-token') {
        if (req.method !== 'POST') return json(res, 405, { error: { code: 'method_not_allowed', message: 'POST only.' } });
        return mintToken(req, url, res);
      }
      if (url.pathname === '/api/config') return json(res, 200, { engineUrl: options.engineUrl, boardId });
      if (req.method !== 'GET' && req.method !== 'HEAD') return json(res, 405, { error: { code: 'method_not_allowed' } });
      return serveFile(url.pathname, res);
    };
    handle().catch((err: unknown) => {
      if (!res.headersSent) json(res, 500, { error: { code: 'server_error', message: (err as Error).message } });
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await ablo.dispose();
    },
  };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      text += chunk;
      if (text.length > 10_000) req.destroy(new Error('body too large'));
    });
    req.on('end', () => resolve(text));
    req.on('error', reject);
  });
}
