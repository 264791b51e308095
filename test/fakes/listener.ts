// Loopback listening for the fake servers: ephemeral port on 127.0.0.1, open connections counted, close() that leaves nothing behind.
import type net from 'node:net';

export interface Listener {
  port: number;
  /** Connections currently open on the server side. */
  connections(): number;
  /** Destroy every open connection and stop listening. */
  close(): Promise<void>;
}

/** Listen on 127.0.0.1 (ephemeral port) and track the server's sockets. */
export async function listenLoopback(server: net.Server, extra: { onClose?: () => void } = {}): Promise<Listener> {
  const sockets = new Set<net.Socket>();
  server.on('connection', (socket: net.Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, () => {
      server.removeListener('error', reject);
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('not a TCP listener');
  let closing: Promise<void> | undefined;
  return {
    port: address.port,
    connections: () => sockets.size,
    close() {
      closing ??= new Promise<void>((resolve) => {
        extra.onClose?.();
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      });
      return closing;
    },
  };
}
