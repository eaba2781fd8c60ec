// Client-side routing under /admin/: /admin/<section>[/<rest>]?<state>. Every
// view keeps its state (the key shown, the query run, the tab) in the URL, so
// a reload or a shared link opens the same place.

import { useCallback, useSyncExternalStore } from 'react';

export const BASE = '/admin';

const listeners = new Set<() => void>();
const emit = (): void => {
  for (const l of listeners) l();
};
if (typeof window !== 'undefined') window.addEventListener('popstate', emit);

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

const snapshot = (): string => (typeof window === 'undefined' ? `${BASE}/` : window.location.pathname + window.location.search);

export type Location = {
  /** The first segment after /admin/ ('' on /admin/). */
  readonly section: string;
  /** The rest of the path, decoded segments. */
  readonly rest: readonly string[];
  readonly params: URLSearchParams;
};

export function parseLocation(href: string): Location {
  const url = new URL(href, 'http://dashboard');
  const path = url.pathname.startsWith(BASE) ? url.pathname.slice(BASE.length) : url.pathname;
  const parts = path.split('/').filter((p) => p !== '').map((p) => {
    try {
      return decodeURIComponent(p);
    } catch {
      return p;
    }
  });
  return { section: parts[0] ?? '', rest: parts.slice(1), params: url.searchParams };
}

export function useLocation(): Location {
  const href = useSyncExternalStore(subscribe, snapshot, snapshot);
  return parseLocation(href);
}

/** Goes to a dashboard path ("/kv?prefix=a"), adding a history entry unless replace. */
export function navigate(to: string, replace = false): void {
  const target = to.startsWith(BASE) ? to : `${BASE}${to.startsWith('/') ? '' : '/'}${to}`;
  if (target === snapshot()) return;
  if (replace) window.history.replaceState(null, '', target);
  else window.history.pushState(null, '', target);
  emit();
}

/** One query parameter of the current URL as state (replaceState: typing does not flood the history). */
export function useQueryParam(name: string, fallback = ''): [string, (value: string, push?: boolean) => void] {
  const location = useLocation();
  const value = location.params.get(name) ?? fallback;
  const set = useCallback(
    (next: string, push = false) => {
      const url = new URL(window.location.href);
      if (next === '' || next === fallback) url.searchParams.delete(name);
      else url.searchParams.set(name, next);
      navigate(url.pathname + url.search, !push);
    },
    [name, fallback],
  );
  return [value, set];
}

/** Sets several query parameters at once (a section's whole view state). */
export function setQueryParams(values: Record<string, string | null>, push = false): void {
  const url = new URL(window.location.href);
  for (const [k, v] of Object.entries(values)) {
    if (v === null || v === '') url.searchParams.delete(k);
    else url.searchParams.set(k, v);
  }
  navigate(url.pathname + url.search, !push);
}
