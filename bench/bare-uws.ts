// The baseline for bench/kv-bench.ts: a bare uWebSockets.js server that
// answers every request with the same 100-byte body. Requests that carry a
// body (PUT, POST, ...) have it read to the end first, so a PUT to this
// server costs the same body transfer as a PUT to MantisDB.
//
// Usage: node dist/bench/bare-uws.js [--port 0] [--host 127.0.0.1]
// Prints `bare-uws listening on http://HOST:PORT` when ready; SIGTERM stops it.

import uWS from 'uWebSockets.js';

const BODY_BYTES = 100;

function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : fallback;
}

if (typeof uWS.getParts !== 'function') {
  process.stderr.write('bare-uws: uWebSockets.js does not look like the expected build (no getParts)\n');
  process.exit(1);
}

const host = flag('host', '127.0.0.1');
const port = Number(flag('port', '0'));
const body = Buffer.alloc(BODY_BYTES, 'x');

const app = uWS.App();
app.any('/*', (res, req) => {
  const method = req.getMethod();
  if (method === 'get' || method === 'head') {
    res.end(body);
    return;
  }
  let aborted = false;
  res.onAborted(() => {
    aborted = true;
  });
  res.onData((_chunk, isLast) => {
    // The body is read and dropped: the point is to pay for receiving it.
    if (isLast && !aborted) res.end(body);
  });
});

app.listen(host, port, (listenSocket) => {
  if (!listenSocket) {
    process.stderr.write(`bare-uws: cannot listen on ${host}:${port}\n`);
    process.exit(1);
  }
  const actualPort = uWS.us_socket_local_port(listenSocket);
  process.stdout.write(`bare-uws listening on http://${host}:${actualPort}\n`);
  const stop = (): void => {
    uWS.us_listen_socket_close(listenSocket);
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
});
