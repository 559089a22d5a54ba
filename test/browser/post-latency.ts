import http from 'node:http';
import type net from 'node:net';

/**
 * A relay between the playgrounds and the bot that holds a channel post for `delayMs`
 * before the bot sees it, everything else passing straight through.
 *
 * Why: the playground's page draws a new channel post only when its own request that created
 * the post has returned, while the bot's reply reaches the page over another connection.
 * On a busy machine the reply can arrive first; the page then has no thread to put it in and
 * drops it (its log panel shows the reply delivered). Real Teams has a network between the
 * two; this gives the local rig a little of one, for channel posts only.
 */
export async function startPostLatencyRelay(target: string, delayMs: number): Promise<{ url: string; close(): Promise<void> }> {
  const to = new URL(target);
  const sockets = new Set<net.Socket>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const forward = () => {
        const out = http.request(
          { hostname: to.hostname, port: to.port, path: req.url, method: req.method, headers: { ...req.headers, host: to.host, 'content-length': String(body.length) } },
          (answer) => {
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            answer.pipe(res);
          },
        );
        out.on('error', (err) => {
          if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
          res.end(`relay: ${err.message}`);
        });
        out.end(body);
      };
      setTimeout(forward, isNewChannelPost(body) ? delayMs : 0);
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}${to.pathname}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A message in a channel thread (conversation `<channel>;messageid=<post>`): the post, or a reply in its thread. */
function isNewChannelPost(body: Buffer): boolean {
  try {
    const a = JSON.parse(body.toString('utf8')) as { type?: string; conversation?: { id?: string } };
    return a.type === 'message' && (a.conversation?.id ?? '').includes(';messageid=');
  } catch {
    return false;
  }
}
