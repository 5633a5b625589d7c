import { createServer, type Server } from 'node:http';
import type { Logger } from '../log.js';

export interface HttpServerOptions {
  host: string;
  port: number;
  log: Logger;
  /** Readiness: takes calls and the database answers. */
  health: () => Promise<{ ok: boolean; details: Record<string, unknown> }>;
}

/** One HTTP server: health now; the REST API and web console mount here (issue 6). */
export async function startHttpServer(o: HttpServerOptions): Promise<Server> {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (req.method === 'GET' && url.pathname === '/healthz') {
      o.health().then(
        (h) => {
          res.writeHead(h.ok ? 200 : 503, { 'content-type': 'application/json' });
          res.end(JSON.stringify(h));
        },
        (err: unknown) => {
          res.writeHead(503, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ ok: false, error: String(err) }));
        },
      );
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: 'not found' }));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}
