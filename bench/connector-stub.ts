import http from 'node:http';

/**
 * A fast Bot Framework connector stub for the turn benchmarks: accepts every reply, update
 * and new conversation the bots send and answers at once. `GET /count` answers how many it
 * has taken. Prints `LISTENING <port>` when ready.
 */
let n = 0;
const server = http.createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/count') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ activities: n }));
    return;
  }
  req.resume();
  req.on('end', () => {
    n += 1;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(`{"id":"activity-${n}"}`);
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => process.stdout.write(`LISTENING ${(server.address() as { port: number }).port}\n`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
