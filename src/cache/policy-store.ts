// The cache policies in force, and where they came from. Main thread. The
// first of these that exists wins:
//   1. <data-dir>/cache/policies.json: written by every save() (PUT
//      /api/v1/cache/policies), so the last PUT survives restarts, even a PUT
//      of no rules. Delete the file to go back to the config file.
//   2. the --cache-policies file: JSON, an array of rules or {"policies": [...]}.
//   3. none: every key gets the default policy.
// The data-dir file is ours: {"format":1,"crc32":N,"policies":[...]}, N the
// crc32 of JSON.stringify(policies), replaced whole
// (shared/durable-file.ts). It is checked on load like the config file,
// with parsePolicyRules.

import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { crc32 } from 'node:zlib';
import { MantisError } from '../../shared/errors.js';
import { parsePolicyRules, PolicyError, type PolicyRule } from '../../shared/cache/policy.js';
import { ensureDir, storageCode, writeFileDurably } from '../../shared/durable-file.js';

export const POLICIES_DIR = 'cache';
export const POLICIES_FILE = 'policies.json';
const FORMAT = 1;

export type PolicySource = 'data-dir' | 'config-file' | 'default';

/** A policies file that cannot be used; the message names the file and the problem. */
export class PolicyFileError extends Error {
  constructor(
    readonly path: string,
    readonly source: 'data-dir' | 'config-file',
    message: string,
  ) {
    super(message);
    this.name = 'PolicyFileError';
  }
}

export class PolicyStore {
  private saving: Promise<void> = Promise.resolve();

  private constructor(
    private readonly path: string,
    private readonly validPrefix: (prefix: string) => string | null,
    private current: readonly PolicyRule[],
    private from: PolicySource,
    /** The --cache-policies file, when the data dir's rules made it unused (worth a log line). */
    readonly ignoredConfigFile: string | null,
  ) {}

  /**
   * Loads the rules (see the file header). Throws PolicyFileError for a
   * config file that is missing, not JSON or has a bad rule (the server
   * exits 2 with its message), and for a damaged data-dir file.
   */
  static async open(dataDir: string, configFile: string, validPrefix: (prefix: string) => string | null): Promise<PolicyStore> {
    const path = join(dataDir, POLICIES_DIR, POLICIES_FILE);
    const saved = await loadSaved(path, validPrefix);
    if (saved !== null) return new PolicyStore(path, validPrefix, saved, 'data-dir', configFile === '' ? null : configFile);
    if (configFile === '') return new PolicyStore(path, validPrefix, [], 'default', null);
    return new PolicyStore(path, validPrefix, await loadConfig(configFile, validPrefix), 'config-file', null);
  }

  get rules(): readonly PolicyRule[] {
    return this.current;
  }

  get source(): PolicySource {
    return this.from;
  }

  /**
   * Checks the rules (PolicyError) and makes them durable in the data dir;
   * `rules` and `source` change only once they are. Saves run one at a
   * time, in call order. A disk failure throws MantisError STORAGE_IO or
   * STORAGE_FULL (the rules in force stay as they were).
   */
  async save(rules: readonly PolicyRule[]): Promise<void> {
    const checked = Object.freeze(parsePolicyRules(rules, this.validPrefix));
    // Joins the queue before the first await, so saves keep call order.
    const run = this.saving.then(() => this.write(checked));
    this.saving = run.catch(() => undefined);
    await run;
  }

  private async write(rules: readonly PolicyRule[]): Promise<void> {
    const policies = JSON.stringify(rules);
    const text = `{"format":${FORMAT},"crc32":${crc32(policies)},"policies":${policies}}\n`;
    try {
      await ensureDir(dirname(this.path));
      await writeFileDurably(this.path, text);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      const failure = new MantisError(storageCode(error), `cannot save the cache policies to ${this.path}: ${message}`);
      failure.cause = error;
      throw failure;
    }
    this.current = rules;
    this.from = 'data-dir';
  }
}

/** The rules saved in the data dir, or null when none were. */
async function loadSaved(path: string, validPrefix: (prefix: string) => string | null): Promise<readonly PolicyRule[] | null> {
  const text = await readText(path, 'data-dir');
  if (text === null) return null;
  const damaged = (problem: string): PolicyFileError =>
    new PolicyFileError(path, 'data-dir', `${path}: ${problem}; the data directory is damaged (delete the file to fall back to --cache-policies)`);
  let saved: unknown;
  try {
    saved = JSON.parse(text);
  } catch (error) {
    throw damaged(`not valid JSON (${(error as Error).message})`);
  }
  const { format, crc32: sum, policies, ...rest } = (typeof saved === 'object' && saved !== null ? saved : {}) as Record<string, unknown>;
  if (format !== FORMAT || Object.keys(rest).length > 0 || !Array.isArray(policies)) throw damaged(`not a format-${FORMAT} policies file`);
  if (sum !== crc32(JSON.stringify(policies))) throw damaged('checksum mismatch');
  return checkRules(policies, path, 'data-dir', validPrefix);
}

async function loadConfig(path: string, validPrefix: (prefix: string) => string | null): Promise<readonly PolicyRule[]> {
  const text = await readText(path, 'config-file');
  if (text === null) throw new PolicyFileError(path, 'config-file', `cannot read the --cache-policies file ${path}: it does not exist`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new PolicyFileError(path, 'config-file', `${path}: not valid JSON (${(error as Error).message})`);
  }
  if (Array.isArray(parsed)) return checkRules(parsed, path, 'config-file', validPrefix);
  if (typeof parsed === 'object' && parsed !== null && Object.keys(parsed).length === 1 && 'policies' in parsed) {
    return checkRules(parsed.policies, path, 'config-file', validPrefix);
  }
  throw new PolicyFileError(path, 'config-file', `${path}: expected an array of rules or {"policies": [...]}`);
}

function checkRules(rules: unknown, path: string, source: 'data-dir' | 'config-file', validPrefix: (prefix: string) => string | null): readonly PolicyRule[] {
  try {
    return Object.freeze(parsePolicyRules(rules, validPrefix));
  } catch (error) {
    if (error instanceof PolicyError) throw new PolicyFileError(path, source, `${path}: ${error.message}`);
    throw error;
  }
}

/** The file as UTF-8, or null when it does not exist; other read errors name the file. */
async function readText(path: string, source: 'data-dir' | 'config-file'): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new PolicyFileError(path, source, `cannot read ${path}: ${(error as Error).message}`);
  }
}
