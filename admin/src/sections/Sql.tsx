// SQL: an editor with highlighting (Ctrl+Enter runs), several statements run
// one after the other (the server takes one per request), results in a grid
// paged here (the server answers every row at once), row count and timings,
// EXPLAIN / EXPLAIN ANALYZE as a tree, the tables with their columns, and the
// queries run in this tab (sessionStorage). The text is kept in ?q= so a
// reload keeps it; a reload re-runs it only when it only reads (sql-text.ts).

import { useCallback, useEffect, useRef, useState } from 'react';
import { api, ApiError, type Meta } from '../api';
import { Badge, CodeEditor, confirmAction, DataGrid, EmptyState, Field, formatNumber, Loading, PageHeader, Panel, Tree, type Column } from '../components';
import { useApi } from '../hooks';
import { setQueryParams, useLocation } from '../router';
import { notify } from '../toast';
import { cellNode, NUMERIC_TYPES, useClientPages } from './query-common';
import { firstKeyword, isReadOnly, lineColumn, planTree, splitStatements, type Statement } from './sql-text';

type SqlColumn = { name: string; type: string };
type SqlResult = { command: string; columns: SqlColumn[]; rows: unknown[][]; row_count: number };
type TableSummary = { name: string; columns: { name: string; type: string; nullable: boolean }[]; primary_key: string[] };

type Outcome = { statement: Statement; result?: SqlResult; meta?: Meta; error?: Error };
type RunResult = { text: string; outcomes: Outcome[]; mode: Mode; ms: number };
type Mode = 'run' | 'explain' | 'analyze';

type HistoryEntry = { query: string; mode?: Mode; at: number; ok: boolean; summary: string };
const HISTORY_KEY = 'mantis.sql.history';
/** A first script for an empty database: two tables, a few rows, a join. */
const EXAMPLE = `CREATE TABLE customers (id bigint PRIMARY KEY, name text NOT NULL, city text);
CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint NOT NULL, total numeric, created_at timestamptz);
INSERT INTO customers VALUES (1, 'Ada', 'London'), (2, 'Grace', 'New York');
INSERT INTO orders VALUES (1, 1, 42.5, now()), (2, 1, 18, now()), (3, 2, 99, now());
SELECT c.name, count(*) AS orders, sum(o.total) AS revenue
FROM customers c JOIN orders o ON o.customer_id = c.id
GROUP BY c.name
ORDER BY revenue DESC;`;
const HISTORY_MAX = 25;
const PAGE_SIZE = 100;

function loadHistory(): HistoryEntry[] {
  try {
    const parsed = JSON.parse(sessionStorage.getItem(HISTORY_KEY) ?? '[]') as unknown;
    return Array.isArray(parsed) ? (parsed as HistoryEntry[]) : [];
  } catch {
    return [];
  }
}

function saveHistory(entries: HistoryEntry[]): void {
  try {
    sessionStorage.setItem(HISTORY_KEY, JSON.stringify(entries));
  } catch {
    // storage full or refused: the history is a convenience
  }
}

function summaryOf(o: Outcome): string {
  if (o.error !== undefined) return o.error instanceof ApiError ? o.error.code : 'error';
  const r = o.result;
  if (r === undefined) return '';
  if (r.command === 'SELECT' || r.command === 'EXPLAIN' || r.columns.length > 0) return `${r.command} · ${formatNumber(r.rows.length)} row${r.rows.length === 1 ? '' : 's'}`;
  return `${r.command}${['INSERT', 'UPDATE', 'DELETE', 'MERGE'].includes(r.command) ? ` · ${formatNumber(r.row_count)} affected` : ''}`;
}

/** The statement EXPLAIN wraps: as written when it is already an EXPLAIN. */
function explainText(statement: string, mode: Mode): string {
  if (mode === 'run' || firstKeyword(statement) === 'EXPLAIN') return statement;
  return `EXPLAIN (${mode === 'analyze' ? 'ANALYZE, ' : ''}FORMAT JSON) ${statement}`;
}

export default function SqlSection() {
  const { params } = useLocation();
  const urlQuery = params.get('q') ?? '';
  const urlMode = (params.get('mode') ?? 'run') as Mode;
  const [text, setText] = useState(urlQuery);
  const [paramText, setParamText] = useState(params.get('params') ?? '');
  const [busy, setBusy] = useState<Mode | null>(null);
  const [run, setRun] = useState<RunResult | null>(null);
  const [history, setHistory] = useState<HistoryEntry[]>(loadHistory);
  const [txn, setTxn] = useState<string | null>(null);
  const [restored, setRestored] = useState<string | null>(null);
  const tables = useApi<TableSummary[]>('/api/v1/tables');
  const reloadTables = tables.reload;
  const txnRef = useRef<string | null>(null);
  txnRef.current = txn;

  const execute = useCallback(
    async (query: string, mode: Mode, paramsText: string): Promise<void> => {
      const statements = splitStatements(query);
      if (statements.length === 0) {
        notify.error(new Error('Nothing to run: write a SQL statement first'));
        return;
      }
      let params: unknown[] | undefined;
      if (paramsText.trim() !== '') {
        try {
          const parsed = JSON.parse(paramsText) as unknown;
          if (!Array.isArray(parsed)) throw new Error('not an array');
          params = parsed;
        } catch (error) {
          notify.error(new Error(`The parameters must be a JSON array such as [1, "Ada"] (${(error as Error).message})`));
          return;
        }
        if (statements.length > 1) {
          notify.error(new Error('Parameters bind one statement: run the statements one at a time'));
          return;
        }
      }
      // EXPLAIN explains the last statement; ANALYZE runs it, so a write asks first.
      const toRun = mode === 'run' ? statements : statements.slice(-1);
      if (mode === 'analyze' && !isReadOnly(toRun[0].text) && !(await confirmAction('Run this statement?', 'EXPLAIN ANALYZE executes the statement to measure it: its changes are applied.', 'Run and explain'))) return;
      setBusy(mode);
      setQueryParams({ q: query, mode: mode === 'run' ? null : mode, params: paramsText.trim() === '' ? null : paramsText });
      const started = performance.now();
      const outcomes: Outcome[] = [];
      let current = txnRef.current;
      for (const statement of toRun) {
        try {
          const answer = await api.post<SqlResult>('/api/v1/sql', { query: explainText(statement.text, mode), ...(params === undefined ? {} : { params }) }, { headers: current === null ? {} : { 'Mantis-Txn': current } });
          outcomes.push({ statement, result: answer.data, meta: answer.meta });
          // A BEGIN answers its transaction's id; the statements after it (in this run and the next ones) carry it.
          if (typeof answer.meta.txn === 'string') current = answer.meta.txn;
          if (answer.data.command === 'COMMIT' || answer.data.command === 'ROLLBACK') current = null;
        } catch (error) {
          notify.error(error);
          outcomes.push({ statement, error: error as Error });
          if (error instanceof ApiError && (error.code.startsWith('TXN_') || error.status === 404) && current !== null) current = null;
          break;
        }
      }
      setTxn(current);
      const ms = performance.now() - started;
      setRun({ text: query, outcomes, mode, ms });
      setBusy(null);
      const last = outcomes[outcomes.length - 1];
      const entry: HistoryEntry = { query, mode, at: Date.now(), ok: last.error === undefined, summary: outcomes.length > 1 ? `${outcomes.length} statements · ${summaryOf(last)}` : summaryOf(last) };
      setHistory((h) => {
        const next = [entry, ...h.filter((e) => e.query !== query || (e.mode ?? 'run') !== mode)].slice(0, HISTORY_MAX);
        saveHistory(next);
        return next;
      });
      if (outcomes.some((o) => o.result !== undefined && /^(CREATE|DROP|ALTER)/.test(o.result.command))) reloadTables();
    },
    [reloadTables],
  );

  // A reload (or shared link) puts the text back; it runs again only when it only reads.
  const started = useRef(false);
  useEffect(() => {
    if (started.current) return;
    started.current = true;
    if (urlQuery === '') return;
    if (isReadOnly(urlQuery)) void execute(urlQuery, urlMode, params.get('params') ?? '');
    else setRestored(urlQuery);
  }, [execute, urlQuery, urlMode, params]);

  // An empty editor on a first visit starts with a query over the first table.
  useEffect(() => {
    if (text === '' && urlQuery === '' && tables.data !== undefined && tables.data.length > 0) setText(`SELECT *\nFROM ${tables.data[0].name}\nLIMIT 100;`);
  }, [tables.data]);

  const go = (mode: Mode, query = text): void => {
    setRestored(null);
    void execute(query, mode, paramText);
  };
  const endTxn = (command: 'COMMIT' | 'ROLLBACK'): void => {
    void execute(command, 'run', '');
  };

  return (
    <>
      <PageHeader
        title="SQL"
        description="PostgreSQL-dialect SQL over the tables: joins, aggregates, transactions. Ctrl+Enter runs; several statements separated by ; run in order."
        actions={
          txn === null ? undefined : (
            <>
              <Badge tone="warn">Transaction {txn} open</Badge>
              <button type="button" className="button small" onClick={() => endTxn('COMMIT')} disabled={busy !== null}>
                Commit
              </button>
              <button type="button" className="button small danger" onClick={() => endTxn('ROLLBACK')} disabled={busy !== null}>
                Roll back
              </button>
            </>
          )
        }
      />
      <div className="q-sql">
        <Panel title="Tables" className="q-schema">
          {tables.data === undefined ? (
            tables.loading ? <Loading label="Loading tables…" /> : <EmptyState title="Tables could not be listed">Reload the page to try again.</EmptyState>
          ) : tables.data.length === 0 ? (
            <EmptyState title="No tables yet">
              Create one with CREATE TABLE, or start from an example:
              <div className="q-top-gap">
                <button type="button" className="button small" onClick={() => setText(EXAMPLE)}>
                  Put an example in the editor
                </button>
              </div>
            </EmptyState>
          ) : (
            tables.data.map((t, i) => (
              <details key={t.name} open={i < 3}>
                <summary>
                  {t.name} <span className="q-type">{t.columns.length} columns</span>
                </summary>
                <ul aria-label={`Columns of ${t.name}`}>
                  {t.columns.map((c) => (
                    <li key={c.name}>
                      <span>
                        {c.name}
                        {t.primary_key.includes(c.name) && (
                          <abbr className="q-pk" title="primary key">
                            PK
                          </abbr>
                        )}
                      </span>
                      <span className="q-type">{c.type}</span>
                    </li>
                  ))}
                </ul>
                <button
                  type="button"
                  className="button small"
                  onClick={() => {
                    const q = `SELECT *\nFROM ${t.name}\nLIMIT 100;`;
                    setText(q);
                    go('run', q);
                  }}
                >
                  Query {t.name}
                </button>
              </details>
            ))
          )}
        </Panel>
        <div>
          <Panel title="Query">
            <CodeEditor value={text} onChange={setText} language="sql" label="SQL query" rows={9} onRun={() => go('run')} />
            {restored !== null && (
              <p className="muted q-top-gap" role="note">
                The query from the link was put back without running it (it may change data): press Run to execute it.
              </p>
            )}
            <div className="toolbar q-top-gap">
              <button type="button" className="button primary" onClick={() => go('run')} disabled={busy !== null} aria-busy={busy === 'run'}>
                {busy === 'run' ? 'Running…' : 'Run'}
              </button>
              <button type="button" className="button" onClick={() => go('explain')} disabled={busy !== null} aria-busy={busy === 'explain'}>
                {busy === 'explain' ? 'Explaining…' : 'Explain'}
              </button>
              <button type="button" className="button" onClick={() => go('analyze')} disabled={busy !== null} aria-busy={busy === 'analyze'}>
                {busy === 'analyze' ? 'Analyzing…' : 'Explain analyze'}
              </button>
              <Field label="Parameters" className="q-params">
                <input value={paramText} onChange={(e) => setParamText(e.target.value)} autoComplete="off" spellCheck={false} />
              </Field>
              <span className="muted q-hint">Ctrl+Enter runs. Parameters: a JSON array binding $1, $2…</span>
            </div>
          </Panel>
          <Panel title="Results">
            <Results run={run} busy={busy !== null} />
          </Panel>
          <Panel
            title="History"
            actions={
              history.length === 0 ? undefined : (
                <button
                  type="button"
                  className="button small"
                  onClick={() =>
                    void confirmAction('Clear the history?', 'The queries run in this tab are forgotten.', 'Clear history').then((ok) => {
                      if (!ok) return;
                      saveHistory([]);
                      setHistory([]);
                    })
                  }
                >
                  Clear
                </button>
              )
            }
          >
            {history.length === 0 ? (
              <EmptyState title="No queries run yet">The queries you run in this tab are listed here to run again in one click.</EmptyState>
            ) : (
              <ul className="q-history" aria-label="Queries run in this tab">
                {history.map((h) => (
                  <li key={`${h.at}-${h.query}`}>
                    <code>{h.query}</code>
                    <div className="q-history-foot">
                      <Badge tone={h.ok ? 'good' : 'bad'}>{h.ok ? 'ok' : 'failed'}</Badge>
                      {h.mode !== undefined && h.mode !== 'run' && <Badge tone="info">{h.mode === 'analyze' ? 'explain analyze' : 'explain'}</Badge>}
                      <span className="muted">
                        {new Date(h.at).toLocaleTimeString('en-GB', { hour12: false })} · {h.summary}
                      </span>
                      <span className="q-spacer" />
                      <button type="button" className="button small" onClick={() => setText(h.query)} aria-label={`Edit: ${h.query.slice(0, 60)}`}>
                        Edit
                      </button>
                      <button
                        type="button"
                        className="button small"
                        disabled={busy !== null}
                        onClick={() => {
                          setText(h.query);
                          go(h.mode ?? 'run', h.query);
                        }}
                        aria-label={`Run again: ${h.query.slice(0, 60)}`}
                      >
                        Run again
                      </button>
                    </div>
                  </li>
                ))}
              </ul>
            )}
          </Panel>
        </div>
      </div>
    </>
  );
}

function Results({ run, busy }: { run: RunResult | null; busy: boolean }) {
  const last = run?.outcomes[run.outcomes.length - 1];
  const shown = last?.result;
  const pages = useClientPages(shown?.rows ?? [], PAGE_SIZE, run);
  if (run === null || last === undefined) {
    return busy ? <Loading label="Running…" /> : <EmptyState title="No results yet">Write a query and press Run (or Ctrl+Enter); Explain shows its plan as a tree.</EmptyState>;
  }
  const columns: Column<unknown[]>[] = (shown?.columns ?? []).map((c, i) => ({
    key: String(i),
    label: c.name,
    numeric: NUMERIC_TYPES.has(c.type),
    render: (row: unknown[]) => cellNode(row[i]),
  }));
  return (
    <div aria-busy={busy}>
      {run.outcomes.length > 1 && (
        <ul className="q-statements" aria-label="Statements run">
          {run.outcomes.map((o, i) => (
            <li key={i}>
              <Badge tone={o.error === undefined ? 'good' : 'bad'}>{o.error === undefined ? 'ok' : 'failed'}</Badge>
              <code>{o.statement.text.split('\n')[0]}</code>
              <span className="muted">{summaryOf(o)}</span>
            </li>
          ))}
        </ul>
      )}
      {last.error !== undefined ? (
        <SqlErrorNote error={last.error} text={run.text} statement={last.statement} mode={run.mode} />
      ) : shown === undefined ? null : (
        <>
          <p className="muted q-result-line" aria-live="polite">
            <strong>{shown.command}</strong> · {formatNumber(shown.command === 'SELECT' || shown.columns.length > 0 ? shown.rows.length : shown.row_count)}{' '}
            {shown.command === 'SELECT' || shown.columns.length > 0 ? (shown.rows.length === 1 ? 'row' : 'rows') : 'rows affected'} · {formatNumber(Number(last.meta?.took_ms ?? 0), 1)} ms on the server
            {last.meta?.plan_ms !== undefined && ` (parse ${formatNumber(Number(last.meta.parse_ms), 2)}, plan ${formatNumber(Number(last.meta.plan_ms), 2)}, execute ${formatNumber(Number(last.meta.exec_ms), 2)} ms)`}
            {run.outcomes.length > 1 && ` · ${run.outcomes.length} statements in ${formatNumber(run.ms, 0)} ms`}
            {typeof last.meta?.notice === 'string' && ` · notice: ${last.meta.notice}`}
          </p>
          {shown.command === 'EXPLAIN' ? (
            <>
              <Tree value={planTree(shown.rows)} label="Query plan" />
              <details className="q-plan-raw">
                <summary>Plan as the server answered it</summary>
                <pre className="code">{shown.rows.map((r) => String(r[0])).join('\n')}</pre>
              </details>
            </>
          ) : shown.columns.length > 0 ? (
            shown.rows.length === 0 ? (
              <EmptyState title="No rows">The query ran and matched nothing.</EmptyState>
            ) : (
              <>
                <DataGrid columns={columns} rows={pages.slice} caption="Query results" rowKey={(_r, i) => String((pages.page - 1) * PAGE_SIZE + i)} />
                {pages.pager}
              </>
            )
          ) : (
            <p>
              <Badge tone="good">{shown.command}</Badge> done.
            </p>
          )}
        </>
      )}
    </div>
  );
}

function SqlErrorNote({ error, text, statement, mode }: { error: Error; text: string; statement: Statement; mode: Mode }) {
  const api = error instanceof ApiError ? error : undefined;
  const position = typeof api?.details.position === 'number' ? api.details.position : undefined;
  // The server's position counts in the statement it was sent; an EXPLAIN prefix shifts it.
  const prefix = explainText(statement.text, mode).length - statement.text.length;
  const offset = position === undefined ? undefined : statement.start + Math.max(0, position - 1 - prefix);
  const where = offset === undefined ? undefined : lineColumn(text, offset);
  const line = where === undefined ? undefined : text.split('\n')[where.line - 1];
  return (
    <div className="error-note" role="alert">
      <p>
        {api !== undefined && <code>{api.code}</code>} {error.message}
        {typeof api?.details.sqlstate === 'string' && <span> (SQLSTATE {api.details.sqlstate})</span>}
        {where !== undefined && (
          <span>
            {' '}
            at line {where.line}, column {where.column}
          </span>
        )}
      </p>
      {line !== undefined && where !== undefined && <pre className="q-error-at">{`${line}\n${' '.repeat(where.column - 1)}^`}</pre>}
    </div>
  );
}
