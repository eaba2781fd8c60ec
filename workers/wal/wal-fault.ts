// Test-only fault injection for the WAL, switched on by MANTIS_FAULT_WAL (read once per open()).
// Value: `eio-on-write` | `enospc-on-write` | `eio-on-fsync`, optionally `@N` to let the first
// N operations of that kind succeed (so a test can build pending waiters before the fault).

export type WalFaultKind = 'eio-on-write' | 'enospc-on-write' | 'eio-on-fsync';
const KINDS: readonly WalFaultKind[] = ['eio-on-write', 'enospc-on-write', 'eio-on-fsync'];

export class WalFault {
  private writes = 0;
  private fsyncs = 0;

  private constructor(
    readonly kind: WalFaultKind,
    private readonly after: number,
  ) {}

  /** Throws on an unknown value: a typo must not silently run a test without its fault. */
  static fromEnv(raw: string | undefined): WalFault | null {
    if (raw === undefined || raw === '') return null;
    const [kind, afterText] = raw.split('@');
    const after = afterText === undefined ? 0 : Number(afterText);
    const known = KINDS.find((k) => k === kind);
    if (known === undefined || !Number.isSafeInteger(after) || after < 0) {
      throw new Error(`MANTIS_FAULT_WAL=${raw} is not one of ${KINDS.join(', ')} (optionally @N)`);
    }
    return new WalFault(known, after);
  }

  /** The error this write should fail with, or null to let it through. */
  onWrite(): Error | null {
    if (this.kind === 'eio-on-fsync' || this.writes++ < this.after) return null;
    return injected(this.kind === 'enospc-on-write' ? 'ENOSPC' : 'EIO', 'write');
  }

  onFsync(): Error | null {
    if (this.kind !== 'eio-on-fsync' || this.fsyncs++ < this.after) return null;
    return injected('EIO', 'fdatasync');
  }
}

function injected(code: string, syscall: string): Error {
  return Object.assign(new Error(`${code}: injected by MANTIS_FAULT_WAL, ${syscall}`), { code, syscall });
}
