// What a principal may do with keys named in a body (a KV batch, a
// transaction's operations and conditions) and which listed keys it may see:
// permissions (kv:<prefix>) and the KV row-level policies (prefix templates).
// Routes with one key in the path are checked by the listener's gate.

import { MantisError } from '../../shared/errors.js';
import type { Principal } from './principal.js';
import type { Security } from './security.js';

export type KvAccess = {
  /** Throws FORBIDDEN when the key may not be read (write=false) or written. */
  check(key: Uint8Array | string, write: boolean): void;
  /** Which listed keys the principal sees; null when it sees every key it may list. */
  readonly visible: ((key: Uint8Array) => boolean) | null;
};

const utf8 = new TextDecoder('utf-8');

export function kvAccessFor(security: Security | undefined, principal: Principal | undefined): KvAccess | undefined {
  if (security === undefined || principal === undefined || !security.authOn || principal.kind === 'system') return undefined;
  const readRule = security.kvRule(principal, 'select');
  const writeRule = security.kvRule(principal, 'update');
  const name = (key: Uint8Array | string): string => (typeof key === 'string' ? key : utf8.decode(key));
  return {
    check: (key, write) => {
      const k = name(key);
      const action = write ? 'write' : 'read';
      if (!principal.can(`kv:${k}`, action)) throw new MantisError('FORBIDDEN', `permission denied: needs ${action} on kv:${k}`, { permission: `kv:${k}:${action}` });
      const rule = write ? writeRule : readRule;
      if (rule !== null && !rule(k)) throw new MantisError('FORBIDDEN', `row-level security: key "${k}" is outside the keys this caller may ${write ? 'write' : 'read'}`);
    },
    visible: readRule === null ? null : (key) => readRule(utf8.decode(key)),
  };
}
