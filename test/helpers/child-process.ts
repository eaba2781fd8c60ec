// The kill -9 tests' scaffolding (dependency graph, coordinator log,
// timestamp oracle): build dist/ when the compiled module a fixture imports
// is missing or stale, run a fixture as a child process until it has printed
// enough, SIGKILL it, and read back the lines it printed whole.

import { execSync, spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root. */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * Builds dist/ when `dist` (relative to ROOT) is missing or older than any of
 * `sources` (relative to ROOT). tsc still emits on type errors elsewhere in
 * the tree, so a failed build is fatal only when `dist` is still missing.
 */
export function ensureBuilt(dist: string, sources: readonly string[]): void {
  const target = join(ROOT, dist);
  const newest = Math.max(...sources.map((f) => statSync(join(ROOT, f)).mtimeMs));
  if (existsSync(target) && statSync(target).mtimeMs >= newest) return;
  try {
    execSync('npm run build --silent', { cwd: ROOT, stdio: 'pipe' });
  } catch (error) {
    if (!existsSync(target)) throw error;
  }
}

/**
 * Runs `node <script> <args>` (script relative to ROOT) until it has printed
 * more than `lines` lines, then SIGKILLs it; resolves with its stdout. Rejects
 * when it exits on its own or prints too little within 30 s (`name` names it
 * in the message).
 */
export function runAndKill(script: string, args: readonly string[], lines: number, name: string): Promise<string> {
  const child = spawn(process.execPath, [join(ROOT, script), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${name} printed too little in time:\n${stdout.slice(-500)}\n${stderr}`));
    }, 30_000);
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (stdout.split('\n').length > lines && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (signal === 'SIGKILL') resolve(stdout);
      else reject(new Error(`${name} exited with ${code}: ${stderr}`));
    });
  });
}

/** The lines of a killed process's output that it finished: the last one may have been cut by the kill. */
export function wholeLines(output: string): string[] {
  return output.split('\n').slice(0, -1);
}
