// PolicyStore: where the rules come from (data dir, then --cache-policies,
// then none), that a save survives a restart and beats the config file, and
// that every bad file is refused with its name and the problem.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MantisError } from '../../shared/errors.js';
import { PolicyError, type PolicyRule } from '../../shared/cache/policy.js';
import { PolicyFileError, PolicyStore } from '../../src/cache/policy-store.js';
import { tempDirMaker } from './temp-dirs.js';

const tempDir = tempDirMaker('mantis-policies-');

/** Prefixes are checked as keys are; this stand-in refuses one marker prefix. */
const validPrefix = (prefix: string): string | null => (prefix.startsWith('bad') ? 'prefixes starting with "bad" are refused here' : null);

const RULES: PolicyRule[] = [
  { prefix: 'session:', policy: 'cache-only' },
  { prefix: 'user:', policy: 'write-back', read_through: false },
];

function configFile(content: string): string {
  const path = join(tempDir(), 'policies.json');
  writeFileSync(path, content);
  return path;
}

async function openError(dataDir: string, config: string): Promise<PolicyFileError> {
  const error = await PolicyStore.open(dataDir, config, validPrefix).then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(PolicyFileError);
  return error as PolicyFileError;
}

describe('PolicyStore', () => {
  it('has no rules without a saved file or a config file', async () => {
    const store = await PolicyStore.open(tempDir(), '', validPrefix);
    expect(store.rules).toEqual([]);
    expect(store.source).toBe('default');
  });

  it('loads the config file as an array or as {"policies": [...]}', async () => {
    for (const content of [JSON.stringify(RULES), JSON.stringify({ policies: RULES })]) {
      const store = await PolicyStore.open(tempDir(), configFile(content), validPrefix);
      expect(store.rules).toEqual(RULES);
      expect(store.source).toBe('config-file');
      expect(store.ignoredConfigFile).toBeNull();
    }
  });

  it('saves durably: the last save wins over the config file after a restart, even a save of no rules', async () => {
    const dataDir = tempDir();
    const config = configFile(JSON.stringify(RULES));
    const store = await PolicyStore.open(dataDir, config, validPrefix);
    await store.save([{ prefix: 'feed:', policy: 'write-around' }]);
    expect(store.source).toBe('data-dir');
    expect(store.rules).toEqual([{ prefix: 'feed:', policy: 'write-around' }]);
    expect(existsSync(join(dataDir, 'cache', 'policies.json.tmp'))).toBe(false);

    const restarted = await PolicyStore.open(dataDir, config, validPrefix);
    expect(restarted.source).toBe('data-dir');
    expect(restarted.rules).toEqual([{ prefix: 'feed:', policy: 'write-around' }]);
    expect(restarted.ignoredConfigFile).toBe(config);

    await restarted.save([]);
    const again = await PolicyStore.open(dataDir, config, validPrefix);
    expect([again.source, again.rules]).toEqual(['data-dir', []]);
  });

  it('keeps saves in call order', async () => {
    const dataDir = tempDir();
    const store = await PolicyStore.open(dataDir, '', validPrefix);
    const saves = Array.from({ length: 5 }, (_, i) => store.save([{ prefix: `p${i}:`, policy: 'write-through' }]));
    await Promise.all(saves);
    expect(store.rules).toEqual([{ prefix: 'p4:', policy: 'write-through' }]);
    expect((await PolicyStore.open(dataDir, '', validPrefix)).rules).toEqual([{ prefix: 'p4:', policy: 'write-through' }]);
  });

  it('refuses bad rules on save with PolicyError and keeps the ones in force', async () => {
    const store = await PolicyStore.open(tempDir(), configFile(JSON.stringify(RULES)), validPrefix);
    await expect(store.save([{ prefix: 'x', policy: 'nope' as PolicyRule['policy'] }])).rejects.toBeInstanceOf(PolicyError);
    await expect(store.save([{ prefix: 'bad:', policy: 'write-back' }])).rejects.toThrow('refused here');
    expect([store.source, store.rules]).toEqual(['config-file', RULES]);
  });

  it('answers a disk failure on save with STORAGE_IO and keeps the rules in force', async () => {
    const dataDir = tempDir();
    const store = await PolicyStore.open(dataDir, '', validPrefix);
    writeFileSync(join(dataDir, 'cache'), 'not a directory');
    const error = await store.save(RULES).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(MantisError);
    expect((error as MantisError).code).toBe('STORAGE_IO');
    expect((error as MantisError).message).toContain(join(dataDir, 'cache', 'policies.json'));
    expect([store.source, store.rules]).toEqual(['default', []]);
  });

  it('refuses a bad config file with its name and the problem', async () => {
    const cases: [string, string][] = [
      ['{"policies": [', 'not valid JSON'],
      ['{"rules": []}', 'expected an array of rules or {"policies": [...]}'],
      ['"write-back"', 'expected an array of rules'],
      [JSON.stringify([{ prefix: 'a', policy: 'write-sideways' }]), 'policies[0].policy "write-sideways" is not one of'],
      [JSON.stringify({ policies: [{ prefix: 'bad', policy: 'write-back' }] }), 'policies[0].prefix: prefixes starting with "bad"'],
      [JSON.stringify([{ prefix: 'a', policy: 'cache-only', read_through: true }]), 'no storage to read through to'],
    ];
    for (const [content, problem] of cases) {
      const path = configFile(content);
      const error = await openError(tempDir(), path);
      expect(error.message).toContain(path);
      expect(error.message).toContain(problem);
      expect(error.source).toBe('config-file');
    }
    const missing = join(tempDir(), 'missing.json');
    expect((await openError(tempDir(), missing)).message).toBe(`cannot read the --cache-policies file ${missing}: it does not exist`);
  });

  it('refuses a damaged saved file rather than fall back to other rules', async () => {
    const dataDir = tempDir();
    await (await PolicyStore.open(dataDir, '', validPrefix)).save(RULES);
    const path = join(dataDir, 'cache', 'policies.json');
    const saved = readFileSync(path, 'utf8');

    writeFileSync(path, saved.replace('write-back', 'write-thru'));
    expect((await openError(dataDir, '')).message).toContain('checksum mismatch');
    writeFileSync(path, saved.slice(0, 40));
    expect((await openError(dataDir, '')).message).toContain('not valid JSON');
    writeFileSync(path, '[]');
    const error = await openError(dataDir, configFile('[]'));
    expect(error.message).toContain('not a format-1 policies file');
    expect(error.message).toContain('data directory is damaged');
    expect(error.source).toBe('data-dir');
  });
});
