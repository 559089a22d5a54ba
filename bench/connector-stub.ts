import http from 'node:http';

/**
 * A fast Bot Framework connector stub for the turn benchmarks: accepts every reply, update
 * and new conversation the bots send and answers at once, reading nothing. `GET /count`
 * answers how many it has taken; after `GET /capture` it keeps the next one, which
 * `GET /captured` answers. Prints `LISTENING <port>` when ready.
 */
let n = 0;
let capture = false;
let captured = 'null';
const server = http.createServer((req, res) => {
  if (req.method === 'GET') {
    if (req.url === '/capture') capture = true;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(req.url === '/count' ? JSON.stringify({ activities: n }) : req.url === '/captured' ? captured : '{}');
    return;
  }
  const keep = capture;
  capture = false;
  const chunks: Buffer[] = [];
  if (keep) req.on('data', (c: Buffer) => chunks.push(c));
  else req.resume();
  req.on('end', () => {
    n += 1;
    if (keep) captured = Buffer.concat(chunks).toString('utf8');
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(`{"id":"activity-${n}"}`);
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => process.stdout.write(`LISTENING ${(server.address() as { port: number }).port}\n`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
