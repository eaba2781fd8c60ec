// A link to a dashboard view: a real <a href> (opens in a new tab, keyboard
// reachable) that navigates in place on a plain click.

import type { MouseEvent, ReactNode } from 'react';
import { BASE, navigate } from '../router';

/** `to` is a dashboard path with its query, e.g. "/kv?key=user%3A1". */
export function AppLink({ to, children, className, label, current }: { to: string; children: ReactNode; className?: string; label?: string; current?: boolean }) {
  const onClick = (e: MouseEvent<HTMLAnchorElement>): void => {
    if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(to);
  };
  return (
    <a href={`${BASE}${to}`} className={className} onClick={onClick} aria-label={label} aria-current={current === true ? 'true' : undefined} title={label}>
      {children}
    </a>
  );
}

/** A dashboard path with query parameters (empty values left out). */
export function pathWith(section: string, params: Record<string, string | null | undefined>): string {
  const query = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') query.set(k, v);
  const text = query.toString();
  return text === '' ? `/${section}` : `/${section}?${text}`;
}
