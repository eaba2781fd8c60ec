// Small, strict command-line parsing shared by the stress harnesses: flags
// are `--name value` or `--name=value`, booleans are bare `--name`; unknown
// flags and bad values stop the run with a message naming the flag.

export class UsageError extends Error {}

export type ParsedArgs = Map<string, string>;

export function parseArgs(argv: readonly string[], known: ReadonlySet<string>, booleans: ReadonlySet<string>): ParsedArgs {
  const parsed: ParsedArgs = new Map();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) throw new UsageError(`unexpected argument "${arg}"`);
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    if (!known.has(name) && !booleans.has(name)) throw new UsageError(`unknown flag --${name}`);
    if (booleans.has(name)) {
      parsed.set(name, eq < 0 ? 'true' : arg.slice(eq + 1));
      continue;
    }
    const value = eq < 0 ? argv[++i] : arg.slice(eq + 1);
    if (value === undefined) throw new UsageError(`--${name} needs a value`);
    parsed.set(name, value);
  }
  return parsed;
}

/** "90s", "10m", "1h", "500ms" or a bare number of seconds, in ms. */
export function durationMs(flag: string, raw: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(raw.trim());
  if (match === null) throw new UsageError(`--${flag} must look like 500ms, 60s, 10m or 1h, got "${raw}"`);
  const scale = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[match[2] ?? 's'] ?? 1000;
  const ms = Math.round(Number(match[1]) * scale);
  if (ms <= 0) throw new UsageError(`--${flag} must be positive`);
  return ms;
}

export function integer(flag: string, raw: string, min: number, max: number): number {
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || value < min || value > max) throw new UsageError(`--${flag} must be an integer in ${min}..${max}, got "${raw}"`);
  return value;
}

export function positiveNumber(flag: string, raw: string): number {
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new UsageError(`--${flag} must be a positive number, got "${raw}"`);
  return value;
}
