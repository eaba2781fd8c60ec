// Notifications: a tiny external store (so data hooks can report failures
// without a provider) rendered by <ToastHost/> in components.tsx.

import { ApiError } from './api';

export type Toast = {
  readonly id: number;
  readonly kind: 'error' | 'success' | 'info';
  /** The server's error code (errors only). */
  readonly code?: string;
  readonly message: string;
};

let nextId = 1;
let toasts: readonly Toast[] = [];
const listeners = new Set<() => void>();
const timers = new Map<number, ReturnType<typeof setTimeout>>();

function emit(): void {
  for (const l of listeners) l();
}

export const toastStore = {
  list: (): readonly Toast[] => toasts,
  subscribe(listener: () => void): () => void {
    listeners.add(listener);
    return () => listeners.delete(listener);
  },
  dismiss(id: number): void {
    clearTimeout(timers.get(id));
    timers.delete(id);
    toasts = toasts.filter((t) => t.id !== id);
    emit();
  },
  clear(): void {
    for (const t of timers.values()) clearTimeout(t);
    timers.clear();
    toasts = [];
    emit();
  },
};

function push(toast: Omit<Toast, 'id'>, lifetimeMs: number): number {
  const id = nextId++;
  // The same failure twice in a row (a retrying poll) is shown once.
  const last = toasts.at(-1);
  if (last !== undefined && last.kind === toast.kind && last.code === toast.code && last.message === toast.message) return last.id;
  toasts = [...toasts.slice(-4), { ...toast, id }];
  timers.set(id, setTimeout(() => toastStore.dismiss(id), lifetimeMs));
  emit();
  return id;
}

export const notify = {
  success: (message: string): number => push({ kind: 'success', message }, 4000),
  info: (message: string): number => push({ kind: 'info', message }, 4000),
  /** An error toast with the server's code and message (errors stay longer: they need reading). */
  error(error: unknown): number {
    if (error instanceof ApiError) return push({ kind: 'error', code: error.code, message: error.message }, 10_000);
    if (error instanceof Error && error.name === 'AbortError') return 0;
    return push({ kind: 'error', code: 'CLIENT_ERROR', message: error instanceof Error ? error.message : String(error) }, 10_000);
  },
};
