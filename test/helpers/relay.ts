import { createConnection, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP relay to `port` that can be cut (its sockets destroyed, nothing
 * listening) and restored on the same port: a client that goes offline while
 * the engine stays up. Call `cut()` in cleanup.
 */
export async function relay(port: number): Promise<{ url: string; cut(): Promise<void>; restore(): Promise<void> }> {
  const sockets = new Set<Socket>();
  let server: Server | null = null;
  let own = 0;
  const listen = async (): Promise<void> => {
    const s = createServer((inbound) => {
      const outbound = createConnection(port, '127.0.0.1');
      for (const sock of [inbound, outbound]) {
        sockets.add(sock);
        sock.on('close', () => sockets.delete(sock));
        sock.on('error', () => {});
      }
      inbound.pipe(outbound).pipe(inbound);
      inbound.on('close', () => outbound.destroy());
      outbound.on('close', () => inbound.destroy());
    });
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.listen(own, '127.0.0.1', () => resolve());
    });
    own = (s.address() as { port: number }).port;
    server = s;
  };
  const cut = async (): Promise<void> => {
    const s = server;
    server = null;
    for (const sock of sockets) sock.destroy();
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  };
  await listen();
  return { url: `http://127.0.0.1:${own}`, cut, restore: listen };
}
