// Shared building blocks: page header, loading and empty states, toasts,
// confirmation dialog, data grid, JSON view, code editor with highlighting.

import { Component, useEffect, useId, useRef, useState, useSyncExternalStore, type ReactNode } from 'react';
import { notify, toastStore } from './toast';
import { highlight, type Language } from './highlight';

// ---- a failing view -------------------------------------------------------------

/** Keeps a failing section from blanking the app: shows what failed and offers a retry. */
export class ViewBoundary extends Component<{ children: ReactNode; name: string; resetKey: string }, { error: Error | null }> {
  override state: { error: Error | null } = { error: null };

  // Another view (the link changed: back, another item) gets a fresh try.
  override componentDidUpdate(previous: { resetKey: string }): void {
    if (this.state.error !== null && previous.resetKey !== this.props.resetKey) this.setState({ error: null });
  }

  static getDerivedStateFromError(error: Error): { error: Error } {
    return { error };
  }

  override componentDidCatch(error: Error): void {
    notify.error(new Error(`${this.props.name} failed to draw: ${error.message}`));
  }

  override render(): ReactNode {
    if (this.state.error === null) return this.props.children;
    return (
      <div className="panel" role="alert">
        <h1>{this.props.name}</h1>
        <p className="error-note">This view failed to draw: {this.state.error.message}</p>
        <p className="muted">A value or a name in the current link may be one it cannot show. Go back, pick another item, or try again.</p>
        <button type="button" className="button" onClick={() => this.setState({ error: null })}>
          Try again
        </button>
      </div>
    );
  }
}

// ---- formatting -------------------------------------------------------------

export function formatBytes(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (Math.abs(v) >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${u === 0 ? v.toFixed(0) : v.toFixed(v >= 100 ? 0 : 1)} ${units[u]}`;
}

export function formatNumber(n: number | null | undefined, digits = 0): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '–';
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: 0 });
}

export function formatTime(value: string | number | null | undefined): string {
  if (value === null || value === undefined || value === '') return '–';
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? String(value) : d.toLocaleString('en-GB', { hour12: false });
}

// ---- page structure ------------------------------------------------------------

export function PageHeader({ title, description, actions }: { title: string; description?: ReactNode; actions?: ReactNode }) {
  return (
    <header className="page-header">
      <div>
        <h1>{title}</h1>
        {description !== undefined && <p className="muted">{description}</p>}
      </div>
      {actions !== undefined && <div className="actions">{actions}</div>}
    </header>
  );
}

export function Panel({ title, actions, children, className }: { title?: ReactNode; actions?: ReactNode; children: ReactNode; className?: string }) {
  return (
    <section className={`panel ${className ?? ''}`} aria-label={typeof title === 'string' ? title : undefined}>
      {(title !== undefined || actions !== undefined) && (
        <div className="panel-head">
          {title !== undefined && <h2>{title}</h2>}
          {actions !== undefined && <div className="actions">{actions}</div>}
        </div>
      )}
      {children}
    </section>
  );
}

export function Loading({ label = 'Loading…' }: { label?: string }) {
  return (
    <div className="loading" role="status" aria-live="polite">
      <span className="spinner" aria-hidden="true" />
      {label}
    </div>
  );
}

/** What is shown when a list is empty: what it would hold and what to do. */
export function EmptyState({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="empty" role="note">
      <strong>{title}</strong>
      {children !== undefined && <div className="muted">{children}</div>}
    </div>
  );
}

export function ErrorNote({ error }: { error: Error | undefined }) {
  if (error === undefined) return null;
  const code = (error as { code?: string }).code;
  return (
    <p className="error-note" role="alert">
      {code !== undefined && <code>{code}</code>} {error.message}
    </p>
  );
}

export function Stat({ label, value, hint }: { label: string; value: ReactNode; hint?: ReactNode }) {
  return (
    <div className="stat">
      <div className="stat-label">{label}</div>
      <div className="stat-value">{value}</div>
      {hint !== undefined && <div className="stat-hint muted">{hint}</div>}
    </div>
  );
}

export function Badge({ tone = 'neutral', children }: { tone?: 'neutral' | 'good' | 'warn' | 'bad' | 'info'; children: ReactNode }) {
  return <span className={`badge badge-${tone}`}>{children}</span>;
}

export function Tabs<T extends string>({ tabs, value, onChange, label }: { tabs: readonly { id: T; label: string }[]; value: T; onChange: (id: T) => void; label: string }) {
  const refs = useRef<(HTMLButtonElement | null)[]>([]);
  return (
    <div role="tablist" aria-label={label} className="tabs">
      {tabs.map((t, i) => (
        <button
          key={t.id}
          ref={(el) => {
            refs.current[i] = el;
          }}
          role="tab"
          type="button"
          aria-selected={t.id === value}
          tabIndex={t.id === value ? 0 : -1}
          className={t.id === value ? 'tab active' : 'tab'}
          onClick={() => onChange(t.id)}
          onKeyDown={(e) => {
            if (e.key !== 'ArrowRight' && e.key !== 'ArrowLeft') return;
            const next = (i + (e.key === 'ArrowRight' ? 1 : tabs.length - 1)) % tabs.length;
            onChange(tabs[next].id);
            refs.current[next]?.focus();
          }}
        >
          {t.label}
        </button>
      ))}
    </div>
  );
}

/** A labelled form control: the label wraps the control so it is named for assistive technology. */
export function Field({ label, hint, children, className }: { label: string; hint?: ReactNode; children: ReactNode; className?: string }) {
  return (
    <label className={`field ${className ?? ''}`}>
      <span className="field-label">{label}</span>
      {children}
      {hint !== undefined && <span className="field-hint muted">{hint}</span>}
    </label>
  );
}

// ---- toasts -------------------------------------------------------------------

export function ToastHost() {
  const toasts = useSyncExternalStore(toastStore.subscribe, toastStore.list, toastStore.list);
  return (
    <div className="toasts" aria-live="polite">
      {toasts.map((t) => (
        <div key={t.id} className={`toast toast-${t.kind}`} role={t.kind === 'error' ? 'alert' : 'status'} data-code={t.code}>
          <div className="toast-body">
            {t.code !== undefined && <code className="toast-code">{t.code}</code>}
            <span className="toast-message">{t.message}</span>
          </div>
          <button type="button" className="icon-button" aria-label="Dismiss notification" onClick={() => toastStore.dismiss(t.id)}>
            ×
          </button>
        </div>
      ))}
    </div>
  );
}

// ---- dialogs ---------------------------------------------------------------------

/** A modal dialog (the native <dialog>: focus is kept inside, Escape closes it). */
export function Modal({ open, title, onClose, children, footer, wide }: { open: boolean; title: string; onClose: () => void; children: ReactNode; footer?: ReactNode; wide?: boolean }) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  useEffect(() => {
    const dialog = ref.current;
    if (dialog === null) return;
    if (open && !dialog.open) dialog.showModal();
    if (!open && dialog.open) dialog.close();
  }, [open]);
  return (
    <dialog
      ref={ref}
      className={wide === true ? 'modal wide' : 'modal'}
      aria-labelledby={titleId}
      onCancel={(e) => {
        e.preventDefault();
        onClose();
      }}
    >
      {open && (
        <>
          <div className="modal-head">
            <h2 id={titleId}>{title}</h2>
            <button type="button" className="icon-button" aria-label="Close dialog" onClick={onClose}>
              ×
            </button>
          </div>
          <div className="modal-body">{children}</div>
          {footer !== undefined && <div className="modal-foot">{footer}</div>}
        </>
      )}
    </dialog>
  );
}

type ConfirmRequest = { title: string; message: ReactNode; confirmLabel: string; resolve: (ok: boolean) => void };
let confirmRequest: ConfirmRequest | null = null;
const confirmListeners = new Set<() => void>();
const setConfirm = (r: ConfirmRequest | null): void => {
  confirmRequest = r;
  for (const l of confirmListeners) l();
};

/** Asks before a destructive action; resolves true when confirmed. */
export function confirmAction(title: string, message: ReactNode, confirmLabel = 'Delete'): Promise<boolean> {
  return new Promise((resolve) => {
    confirmRequest?.resolve(false);
    setConfirm({ title, message, confirmLabel, resolve });
  });
}

export function ConfirmHost() {
  const request = useSyncExternalStore(
    (l) => {
      confirmListeners.add(l);
      return () => confirmListeners.delete(l);
    },
    () => confirmRequest,
    () => confirmRequest,
  );
  const close = (ok: boolean): void => {
    request?.resolve(ok);
    setConfirm(null);
  };
  return (
    <Modal
      open={request !== null}
      title={request?.title ?? ''}
      onClose={() => close(false)}
      footer={
        <>
          <button type="button" className="button" onClick={() => close(false)}>
            Cancel
          </button>
          <button type="button" className="button danger" data-testid="confirm" onClick={() => close(true)}>
            {request?.confirmLabel}
          </button>
        </>
      }
    >
      <div className="confirm-message">{request?.message}</div>
    </Modal>
  );
}

// ---- data display ------------------------------------------------------------------

export function cellText(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  return JSON.stringify(value);
}

export type Column<R> = { readonly key: string; readonly label: string; readonly render?: (row: R) => ReactNode; readonly numeric?: boolean };

/** A results grid; rows are objects (or arrays with column indexes as keys). */
export function DataGrid<R>({ columns, rows, caption, rowKey, onRowClick, selectedKey }: {
  columns: readonly Column<R>[];
  rows: readonly R[];
  caption: string;
  rowKey?: (row: R, index: number) => string;
  onRowClick?: (row: R) => void;
  selectedKey?: string;
}) {
  return (
    <div className="grid-wrap" tabIndex={0} role="region" aria-label={caption}>
      <table className="grid">
        <caption className="sr-only">{caption}</caption>
        <thead>
          <tr>
            {columns.map((c) => (
              <th key={c.key} scope="col" className={c.numeric === true ? 'num' : undefined}>
                {c.label}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((row, i) => {
            const key = rowKey?.(row, i) ?? String(i);
            return (
              <tr
                key={key}
                className={[onRowClick !== undefined ? 'clickable' : '', selectedKey === key ? 'selected' : ''].join(' ')}
                onClick={onRowClick === undefined ? undefined : () => onRowClick(row)}
              >
                {columns.map((c) => {
                  const content = c.render !== undefined ? c.render(row) : cellText((row as Record<string, unknown>)[c.key]);
                  return (
                    <td key={c.key} className={c.numeric === true ? 'num' : undefined}>
                      {content}
                    </td>
                  );
                })}
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

export function Pager({ page, hasNext, onPrev, onNext, label }: { page: number; hasNext: boolean; onPrev: () => void; onNext: () => void; label?: string }) {
  return (
    <nav className="pager" aria-label={label ?? 'Pages'}>
      <button type="button" className="button small" disabled={page <= 1} onClick={onPrev}>
        ← Previous
      </button>
      <span className="muted">Page {page}</span>
      <button type="button" className="button small" disabled={!hasNext} onClick={onNext}>
        Next →
      </button>
    </nav>
  );
}

/** JSON pretty-printed with colours. */
export function JsonView({ value, label }: { value: unknown; label?: string }) {
  let text: string;
  try {
    text = JSON.stringify(value, null, 2) ?? 'undefined';
  } catch (error) {
    // A value nested thousands of levels deep overflows the stack; say so instead of failing the page.
    return <p className="error-note">This JSON cannot be pretty-printed here ({(error as Error).message}); view it as text.</p>;
  }
  return (
    <pre className="code json-view" tabIndex={0} aria-label={label ?? 'JSON'}>
      {highlight(text, 'json')}
    </pre>
  );
}

/**
 * A code editor: a textarea over a highlighted copy of its text (the textarea's own text is
 * transparent, its caret and selection stay). Ctrl/Cmd+Enter calls onRun.
 */
export function CodeEditor({ value, onChange, language, label, rows = 8, onRun }: { value: string; onChange: (v: string) => void; language: Language; label: string; rows?: number; onRun?: () => void }) {
  const pre = useRef<HTMLPreElement>(null);
  return (
    <div className="editor" style={{ minHeight: `${rows * 1.45 + 1}em` }}>
      <pre ref={pre} className="code editor-highlight" aria-hidden="true">
        {highlight(value, language)}
        {'\n'}
      </pre>
      <textarea
        className="editor-input code"
        aria-label={label}
        spellCheck={false}
        value={value}
        rows={rows}
        onChange={(e) => onChange(e.target.value)}
        onScroll={(e) => {
          if (pre.current !== null) {
            pre.current.scrollTop = e.currentTarget.scrollTop;
            pre.current.scrollLeft = e.currentTarget.scrollLeft;
          }
        }}
        onKeyDown={(e) => {
          if (e.key === 'Enter' && (e.ctrlKey || e.metaKey) && onRun !== undefined) {
            e.preventDefault();
            onRun();
          }
        }}
      />
    </div>
  );
}

/** A tree (EXPLAIN plans): objects and arrays fold open and closed. */
export function Tree({ value, label, openDepth = 8 }: { value: unknown; label: string; openDepth?: number }) {
  return (
    <ul className="tree" role="tree" aria-label={label}>
      <TreeNode name={label} value={value} depth={0} openDepth={openDepth} />
    </ul>
  );
}

function TreeNode({ name, value, depth, openDepth }: { name: string; value: unknown; depth: number; openDepth: number }) {
  const [open, setOpen] = useState(depth < openDepth);
  const branch = value !== null && typeof value === 'object';
  if (!branch) {
    return (
      <li role="treeitem" aria-selected={false} className="tree-leaf">
        <span className="tree-key">{name}</span>: <span className="tree-value">{cellText(value)}</span>
      </li>
    );
  }
  const entries = Array.isArray(value) ? value.map((v, i) => [String(i), v] as const) : Object.entries(value as Record<string, unknown>);
  const summary = Array.isArray(value) ? `[${value.length}]` : describeNode(value as Record<string, unknown>);
  return (
    <li role="treeitem" aria-expanded={open} aria-selected={false}>
      <button type="button" className="tree-toggle" onClick={() => setOpen(!open)} aria-label={`${open ? 'Collapse' : 'Expand'} ${name}`}>
        {open ? '▾' : '▸'}
      </button>
      <span className="tree-key">{name}</span> <span className="muted">{summary}</span>
      {open && (
        <ul role="group">
          {entries.map(([k, v]) => (
            <TreeNode key={k} name={k} value={v} depth={depth + 1} openDepth={openDepth} />
          ))}
        </ul>
      )}
    </li>
  );
}

function describeNode(node: Record<string, unknown>): string {
  for (const k of ['node', 'type', 'stage', 'op', 'operator', 'name', 'plan']) if (typeof node[k] === 'string') return String(node[k]);
  return `{${Object.keys(node).length}}`;
}
