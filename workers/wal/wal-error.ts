// The one error a WAL user must handle: storage refused a write or an fsync.
// Once raised the writer is failed for good (PostgreSQL's fsync lesson): after a
// failed fsync the kernel may have dropped dirty pages, so nothing later can be acknowledged.

export const WAL_ERROR_CODES = { STORAGE_FULL: 'STORAGE_FULL', STORAGE_IO: 'STORAGE_IO' } as const;
export type WalErrorCode = keyof typeof WAL_ERROR_CODES;

export class WalError extends Error {
  override readonly name = 'WalError';
  readonly code: WalErrorCode;
  /** The system error code (ENOSPC, EIO, ...) when there was one. */
  readonly sysCode: string | undefined;

  constructor(code: WalErrorCode, message: string, options?: { cause?: unknown; sysCode?: string }) {
    super(message, { cause: options?.cause });
    this.code = code;
    this.sysCode = options?.sysCode;
  }
}

/** Maps a failed fs call to a WalError; ENOSPC/EDQUOT mean "full", all else is I/O. */
export function toWalError(err: unknown, op: string, file: string): WalError {
  if (err instanceof WalError) return err;
  const sysCode = errnoCode(err);
  const code = sysCode === 'ENOSPC' || sysCode === 'EDQUOT' ? 'STORAGE_FULL' : 'STORAGE_IO';
  const detail = err instanceof Error ? err.message : String(err);
  return new WalError(code, `WAL ${op} failed on ${file}: ${detail}`, { cause: err, sysCode });
}

export function errnoCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string') {
    return err.code;
  }
  return undefined;
}
