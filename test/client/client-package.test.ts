// `mantisdb/client` resolves through the package's `exports` map (Node's
// self-reference by package name), to the built client and its declarations.

import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));

type ExportsMap = { './client': { types: string; default: string } };

describe('package exports', () => {
  it('imports mantisdb/client by name, and its declared types exist', async () => {
    const script = "const m = await import('mantisdb/client'); console.log(JSON.stringify(Object.keys(m).sort()));";
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT });
    expect(JSON.parse(stdout)).toEqual(expect.arrayContaining(['MantisClient', 'MantisClientError', 'ClientErrorCode']));
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { name: string; exports: ExportsMap };
    expect(pkg.name).toBe('mantisdb');
    expect(existsSync(join(ROOT, pkg.exports['./client'].types)), pkg.exports['./client'].types).toBe(true);
    expect(existsSync(join(ROOT, pkg.exports['./client'].default))).toBe(true);
  });
});
