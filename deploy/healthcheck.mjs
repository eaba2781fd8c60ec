// Container health check (deploy/Dockerfile HEALTHCHECK): GET /health/live on
// the local listener with node, since the slim image has no curl or wget.
// Exit 0 when it answers 200, 1 otherwise (Docker's "unhealthy" after
// --retries failures).
//
// The port is MANTIS_PORT (default 8080), as the server reads it. HTTPS is used
// when the server serves TLS: MANTIS_TLS=on, or the prod profile without an
// explicit MANTIS_TLS=off. The certificate is not verified: the check only
// asks whether this process answers on its own port.

import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';

const TIMEOUT_MS = 4000;

const env = process.env;
const port = Number(env.MANTIS_PORT ?? '8080');
const tls = env.MANTIS_TLS === 'on' || (env.MANTIS_PROFILE === 'prod' && env.MANTIS_TLS !== 'off');
const url = `${tls ? 'https' : 'http'}://127.0.0.1:${port}/health/live`;

function fail(reason) {
  process.stderr.write(`healthcheck: ${url}: ${reason}\n`);
  process.exit(1);
}

if (!Number.isInteger(port) || port < 1 || port > 65535) fail(`MANTIS_PORT "${env.MANTIS_PORT}" is not a port`);

const request = tls ? httpsRequest : httpRequest;
const req = request(url, { method: 'GET', timeout: TIMEOUT_MS, rejectUnauthorized: false }, (res) => {
  res.resume();
  res.on('end', () => {
    if (res.statusCode === 200) process.exit(0);
    fail(`status ${res.statusCode}`);
  });
});
req.on('timeout', () => req.destroy(new Error(`no answer within ${TIMEOUT_MS} ms`)));
req.on('error', (error) => fail(error.message));
req.end();
