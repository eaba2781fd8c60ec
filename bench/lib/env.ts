// Benchmark settings read from the environment, validated.

/** An integer ≥ min from env var `name`, or `fallback` when unset or empty. Throws on anything else. */
export function envInt(name: string, fallback: number, min: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) throw new Error(`${name} must be an integer ≥ ${min}, got "${raw}"`);
  return value;
}
