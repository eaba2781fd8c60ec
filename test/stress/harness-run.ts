// Runs a compiled stress harness (dist/stress/*.js) as a child process for
// the smoke tests, with its output kept for the failure message.

import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));

export type HarnessRun = { readonly code: number; readonly output: string; readonly outDir: string };

/** `serverEnv`: MANTIS_* variables for the server the harness starts (it inherits the harness's environment). */
export function runHarness(script: 'load' | 'crash', args: readonly string[], timeoutMs: number, serverEnv: Readonly<Record<string, string>> = {}): Promise<HarnessRun> {
  const outDir = mkdtempSync(join(tmpdir(), `mantis-${script}-smoke-`));
  const env = { ...process.env };
  for (const name of Object.keys(env)) if (name.startsWith('MANTIS_')) delete env[name];
  Object.assign(env, serverEnv);
  return new Promise((done) => {
    execFile(process.execPath, [join(ROOT, 'dist', 'stress', `${script}.js`), ...args, '--out', outDir], { cwd: ROOT, env, timeout: timeoutMs }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
      done({ code, output: `${stdout}\n${stderr}`, outDir });
    });
  });
}

/** The one file in dir ending with `suffix`, parsed as JSON when it is .json. */
export function reportFile(dir: string, suffix: string): string {
  const files = readdirSync(dir).filter((f) => f.endsWith(suffix));
  if (files.length !== 1) throw new Error(`expected one *${suffix} in ${dir}, found ${files.join(', ') || 'none'}`);
  return readFileSync(join(dir, files[0]), 'utf8');
}
