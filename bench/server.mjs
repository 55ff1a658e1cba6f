// The benchmarks' loopback API, run in its own process (so a 10,000-request storm has the file descriptors it
// needs on each side). Prints its port, then serves:
//   GET  /json            a small JSON body
//   POST /token           issues a new access token (counts refreshes)
//   GET  /data/:n         200 for a valid token, else 401 Bearer invalid_token (counts sends)
//   GET  /outage/:n       503 while the outage is on, else 200 (records arrival times)
//   POST /control         { expire?, reset?, token?, down?: boolean, downForMs?: number } (with `downForMs` the
//                         server itself ends the outage on time, and reports when in `recoveredAt`)
//   GET  /stats           the counters, and the connections opened since the last reset
import { createServer } from 'node:http';

const body = JSON.stringify({ id: 1, name: 'apifetch', tags: ['a', 'b', 'c'] });
let serial = 0;
const valid = new Set();
let down = false;
const fresh = () => ({ refreshes: 0, sends: 0, outageSends: 0, arrivals: [], connections: 0, recoveredAt: 0 });
const stats = fresh();

const server = createServer(async (req, res) => {
  const url = req.url ?? '/';
  if (url === '/json') {
    res.writeHead(200, { 'content-type': 'application/json' });
    return res.end(body);
  }
  if (url === '/token') {
    stats.refreshes += 1;
    serial += 1;
    const token = `t${serial}`;
    valid.add(token);
    res.writeHead(200, { 'content-type': 'application/json' });
    return res.end(JSON.stringify({ accessToken: token, token, refreshToken: `r${serial}` }));
  }
  if (url.startsWith('/data/')) {
    stats.sends += 1;
    const token = (req.headers.authorization ?? '').replace('Bearer ', '');
    if (!valid.has(token)) {
      res.writeHead(401, { 'www-authenticate': 'Bearer error="invalid_token"' });
      return res.end();
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    return res.end(body);
  }
  if (url.startsWith('/outage/')) {
    stats.outageSends += 1;
    stats.arrivals.push(Date.now());
    res.writeHead(down ? 503 : 200, { 'content-type': 'application/json' });
    return res.end(down ? '{"error":"unavailable"}' : body);
  }
  if (url === '/control') {
    let raw = '';
    for await (const chunk of req) raw += chunk;
    const command = JSON.parse(raw || '{}');
    if (command.expire) valid.clear();
    if (command.reset) Object.assign(stats, fresh());
    if (command.down !== undefined) down = command.down;
    if (command.downForMs !== undefined) {
      down = true;
      setTimeout(() => {
        down = false;
        stats.recoveredAt = Date.now();
      }, command.downForMs);
    }
    if (command.token) valid.add(command.token);
    return res.end('{}');
  }
  if (url === '/stats') {
    res.writeHead(200, { 'content-type': 'application/json' });
    return res.end(JSON.stringify(stats));
  }
  res.writeHead(404);
  res.end();
});
server.on('connection', () => {
  stats.connections += 1;
});
// Longer than any run: a server closing an idle kept-alive socket just as a stalled client reuses it is a reset
// the client sees as a network error, which would be the bench's doing, not the library's.
server.keepAliveTimeout = 120_000;
server.maxConnections = 18_000;
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
process.on('disconnect', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
