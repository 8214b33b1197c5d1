/**
 * A minimal sync client for benches: one `message` listener per socket that
 * hands the frame text to the socket's current handler, so switching from the
 * hello handler to the live one never drops a frame that arrived in the same
 * chunk as `bootstrap_done`.
 */
import WebSocket from 'ws';

export function syncUrl(engineUrl) {
  return `${engineUrl.replace(/^http/, 'ws')}/v1/sync`;
}

/** Open a socket to the engine's `/v1/sync`. `socket.handler(text)` receives every text frame. */
export function openSocket(engineUrl) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(syncUrl(engineUrl), { perMessageDeflate: false });
    ws.handler = () => {};
    ws.closeInfo = null;
    ws.on('message', (data) => ws.handler(data.toString()));
    ws.on('close', (code, reason) => {
      ws.closeInfo = { code, reason: reason.toString() };
    });
    ws.once('open', () => {
      ws.off('error', reject);
      ws.on('error', () => {});
      resolve(ws);
    });
    ws.once('error', reject);
  });
}

/**
 * Send `hello` and resolve at `bootstrap_done`. `onFrame(frame)` sees the parsed
 * bootstrap/changes frames in between; `after` becomes the socket's handler at
 * once when `bootstrap_done` arrives.
 */
export function hello(ws, frame, { onFrame, after } = {}) {
  return new Promise((resolve, reject) => {
    let welcome = null;
    ws.handler = (text) => {
      let f;
      try {
        f = JSON.parse(text);
      } catch {
        reject(new Error(`engine sent a non-JSON frame: ${text.slice(0, 80)}`));
        return;
      }
      if (f.type === 'welcome') welcome = f;
      else if (f.type === 'bootstrap_done') {
        ws.handler = after ?? (() => {});
        resolve({ welcome, done: f });
      } else if (f.type === 'error' || f.type === 'resync') reject(new Error(`hello failed: ${text.slice(0, 300)}`));
      else onFrame?.(f);
    };
    ws.send(JSON.stringify({ type: 'hello', ...frame }));
  });
}

/** Close sockets and wait (briefly) for the close handshakes. */
export async function closeAll(sockets, timeoutMs = 3000) {
  await Promise.all(
    sockets.map(
      (ws) =>
        new Promise((resolve) => {
          if (ws.readyState === WebSocket.CLOSED) return resolve();
          const timer = setTimeout(() => {
            ws.terminate();
            resolve();
          }, timeoutMs);
          ws.once('close', () => {
            clearTimeout(timer);
            resolve();
          });
          ws.close();
        }),
    ),
  );
}
