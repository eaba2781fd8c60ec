// What the crash harness knows about every key, and the check after each
// restart. Values encode their key and write version, repeated, with a
// CRC-32 at the end, so a value is either exactly one write's bytes or
// visibly wrong (torn, or mixed from two writes).
//
// Per key: the last acknowledged version, and the versions sent but not
// acknowledged since (in flight at the kill; each may or may not be durable).
// After a restart the stored value must be the last acknowledged version or
// one of those later unacknowledged ones: never older, never absent once a
// write was acknowledged, never anything that was not written.

import { crc32 } from 'node:zlib';

export type Verdict = 'ok' | 'lost' | 'corrupt' | 'phantom';

export function encodeValue(key: string, version: number, bytes: number): string {
  const unit = `${key}:${version};`;
  const body = unit.repeat(Math.max(1, Math.ceil(bytes / unit.length)));
  return `${body}|${crc32(body).toString(16).padStart(8, '0')}`;
}

/** The version a stored value claims, or null when it is not exactly one write's bytes. */
export function decodeValue(key: string, value: string): number | null {
  const bar = value.lastIndexOf('|');
  if (bar < 0) return null;
  const body = value.slice(0, bar);
  if (crc32(body).toString(16).padStart(8, '0') !== value.slice(bar + 1)) return null;
  const head = `${key}:`;
  const end = body.indexOf(';');
  if (!body.startsWith(head) || end < 0 || !/^\d+$/.test(body.slice(head.length, end))) return null;
  const version = Number(body.slice(head.length, end));
  const unit = `${key}:${version};`;
  return body === unit.repeat(body.length / unit.length) ? version : null;
}

type KeyState = { acked: number; unacked: Set<number>; inFlight: boolean; retired: boolean };

export class CrashModel {
  private readonly keys: KeyState[];
  private nextVersion = 1;
  acknowledged = 0;
  sent = 0;

  constructor(readonly keyCount: number) {
    this.keys = Array.from({ length: keyCount }, () => ({ acked: 0, unacked: new Set<number>(), inFlight: false, retired: false }));
  }

  static keyName(i: number): string {
    return `crash:${i}`;
  }

  /** A key free to write (one write per key at a time), or -1. */
  pickKey(random: () => number): number {
    for (let tries = 0; tries < 8; tries++) {
      const i = Math.floor(random() * this.keyCount);
      const k = this.keys[i];
      if (!k.inFlight && !k.retired) return i;
    }
    return this.keys.findIndex((k) => !k.inFlight && !k.retired);
  }

  /** REQUIRES: the key is free. A version higher than any sent before. */
  begin(i: number): number {
    const k = this.keys[i];
    k.inFlight = true;
    const version = this.nextVersion++;
    k.unacked.add(version);
    this.sent++;
    return version;
  }

  /** acked: the server said ok. Otherwise the outcome is unknown and the key rests until the next cycle. */
  end(i: number, version: number, acked: boolean): void {
    const k = this.keys[i];
    k.inFlight = false;
    if (!acked) {
      k.retired = true;
      return;
    }
    this.acknowledged++;
    k.acked = version;
    for (const v of k.unacked) if (v <= version) k.unacked.delete(v);
  }

  /**
   * Checks a key's stored value (null = absent) and takes it as the key's new
   * baseline. unackedApplied: the value is a write that was never acknowledged.
   */
  verify(i: number, stored: string | null): { verdict: Verdict; unackedApplied: boolean; ackedVersion: number } {
    const k = this.keys[i];
    const ackedVersion = k.acked;
    const verdict = this.judge(i, stored);
    const version = stored === null ? 0 : (decodeValue(CrashModel.keyName(i), stored) ?? 0);
    const unackedApplied = verdict === 'ok' && version !== k.acked;
    // What survived a restart is durable: it is the baseline for the next cycle.
    if (verdict === 'ok') k.acked = version;
    k.unacked.clear();
    k.retired = false;
    return { verdict, unackedApplied, ackedVersion };
  }

  private judge(i: number, stored: string | null): Verdict {
    const k = this.keys[i];
    if (stored === null) return k.acked === 0 ? 'ok' : 'lost';
    const version = decodeValue(CrashModel.keyName(i), stored);
    if (version === null) return 'corrupt';
    if (version === k.acked || k.unacked.has(version)) return 'ok';
    return version < k.acked ? 'lost' : 'phantom';
  }
}
