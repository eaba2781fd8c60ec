// Runs the restore drill exactly as docs/operations.md writes it: every sh
// block of its "A restore drill" section, in order, as one bash script. Only
// what must differ on a test machine is substituted: the directories become
// temp dirs, the ports free ones, the build step is skipped (the suite built
// dist/ already) and `npm run restore` runs the built entry directly (it is
// `npm run build && node dist/src/main.js restore`). The drill's own check
// (step 9) is then read: keys 1-6 answer 200, keys 7-9 404.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const tmp = mkdtempSync(join(tmpdir(), 'mantis-drill-'));

afterAll(() => {
  // The drill stops its servers itself; make sure nothing outlives the test even when it failed.
  for (const pid of ['mantis-drill.pid', 'mantis-restored.pid']) {
    try {
      process.kill(Number(readFileSync(join(tmp, pid), 'utf8')), 'SIGKILL');
    } catch {
      // already gone
    }
  }
  rmSync(tmp, { recursive: true, force: true });
});

async function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => done(port));
    });
  });
}

/** The sh blocks of the drill section, in order. */
function drillScript(): string {
  const doc = readFileSync(join(ROOT, 'docs', 'operations.md'), 'utf8');
  const start = doc.indexOf('## A restore drill');
  expect(start).toBeGreaterThan(0);
  const end = doc.indexOf('\n## ', start + 5);
  const section = doc.slice(start, end === -1 ? undefined : end);
  const blocks = [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]);
  expect(blocks.length).toBeGreaterThanOrEqual(8);
  return blocks.join('\n');
}

it('the restore drill of the operations manual brings back exactly what was written before the chosen moment', async () => {
  const [a, b] = [await freePort(), await freePort()];
  let script = drillScript();
  const paths: [string, string][] = [
    ['/var/lib/mantis-drill', join(tmp, 'mantis-drill')],
    ['/var/lib/mantis-wal', join(tmp, 'mantis-wal')],
    ['/var/backups/mantis', join(tmp, 'backups')],
    ['/tmp/restored', join(tmp, 'restored')],
    ['/tmp/mantis-drill.log', join(tmp, 'mantis-drill.log')],
    ['/tmp/mantis-drill.pid', join(tmp, 'mantis-drill.pid')],
    ['/tmp/mantis-restored.log', join(tmp, 'mantis-restored.log')],
    ['/tmp/mantis-restored.pid', join(tmp, 'mantis-restored.pid')],
    ['/tmp/backup.json', join(tmp, 'backup.json')],
  ];
  for (const [from, to] of paths) script = script.split(from).join(to);
  script = script.replace(/^\s*npm run build\s*$/m, 'true');
  script = script.split('npm run restore --').join('node dist/src/main.js restore');
  // Ports: the original server on the default one (given explicitly here), the restored one on 8081.
  script = script.split('127.0.0.1:8081').join(`127.0.0.1:${b}`).split('--port 8081').join(`--port ${b}`);
  script = script.split('127.0.0.1:8080').join(`127.0.0.1:${a}`).split('localhost:8080').join(`127.0.0.1:${a}`);
  script = script.replace(/node dist\/src\/main\.js --data-dir (\S+) \\/, `node dist/src/main.js --port ${a} --data-dir $1 \\`);
  expect(script).not.toMatch(/:808[01]\b/);
  const run = spawnSync('bash', ['-e', '-c', `${script}\nkill -TERM "$(cat ${join(tmp, 'mantis-restored.pid')})"`], { cwd: ROOT, encoding: 'utf8', timeout: 150_000 });
  const out = `${run.stdout}\n${run.stderr}`;
  expect(run.status, out).toBe(0);
  expect(out).toContain('restore exit code: 0');
  for (let i = 1; i <= 9; i++) expect(out, out).toMatch(new RegExp(`^drill:${i} ${i <= 6 ? 200 : 404}$`, 'm'));
  expect(out).toMatch(/^after-backup-5$/m);
}, 180_000);
