// A free loopback TCP port (bind to 0, read it, close).
import { createServer, type Server, type Socket } from "node:net";

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.unref();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface LoopbackListener {
  port: number;
  /** 127.0.0.1:PORT */
  host: string;
  /** Stop listening and drop every open connection (keep-alive ones too); later calls do nothing. */
  close(): Promise<void>;
}

/** Listen on a free loopback port, tracking connections so that close() can end them (test servers). */
export async function listenLoopback(server: Server): Promise<LoopbackListener> {
  const sockets = new Set<Socket>();
  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  let closed = false;
  return {
    port,
    host: `127.0.0.1:${port}`,
    async close() {
      if (closed) return;
      closed = true;
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
        (server as { closeAllConnections?: () => void }).closeAllConnections?.();
      });
    },
  };
}
