// Runs the shared KV API suite against every server configuration that must
// behave identically: 1 and 4 shards, with the uWebSockets.js fast path on and
// off (every route through the Hono app).

import { afterAll, beforeAll, describe } from 'vitest';
import { SMALL_VALUE_BYTES_MAX, type KvTarget } from '../helpers/kv-client.js';
import { cleanup, startServer, type ServerProcess } from '../helpers/server-process.js';
import { kvApiCases } from './kv-api.cases.js';

const CONFIGS = [
  { shards: 1, fastPath: true },
  { shards: 1, fastPath: false },
  { shards: 4, fastPath: true },
  { shards: 4, fastPath: false },
].map((c) => ({ ...c, name: `${c.shards} shard${c.shards === 1 ? '' : 's'}, fast path ${c.fastPath ? 'on' : 'off'}` }));

afterAll(cleanup);

describe.each(CONFIGS)('KV API ($name)', ({ shards, fastPath }) => {
  let servers: { main: ServerProcess; small: ServerProcess } | null = null;

  beforeAll(async () => {
    const [main, small] = await Promise.all([
      startServer({ shards, fastPath }),
      startServer({ shards, fastPath, extraArgs: ['--max-value-bytes', String(SMALL_VALUE_BYTES_MAX)] }),
    ]);
    servers = { main, small };
  });

  afterAll(async () => {
    await Promise.all([servers?.main.stop(), servers?.small.stop()]);
  });

  kvApiCases((): KvTarget => {
    if (servers === null) throw new Error('servers did not start (see beforeAll)');
    return { url: servers.main.url, smallUrl: servers.small.url, shards };
  });
});
