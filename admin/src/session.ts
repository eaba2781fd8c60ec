// Who is signed in (GET /api/v1/auth/me), shared by the shell and the sections.

import { createContext, useContext } from 'react';

export type Me = {
  readonly kind: string;
  readonly id: string;
  readonly sub: string;
  readonly roles: readonly string[];
  readonly claims: Record<string, unknown>;
  readonly admin: boolean;
  readonly expires_at: string | null;
  /** False when the server runs with auth off (every caller is the system). */
  readonly auth: boolean;
};

export const SessionContext = createContext<{ me: Me; signOut: () => void } | null>(null);

export function useSession(): { me: Me; signOut: () => void } {
  const session = useContext(SessionContext);
  if (session === null) throw new Error('useSession outside the signed-in app');
  return session;
}
