// An sqllogictest engine over a MantisDB server: POST {"query": sql} to
// `${url}/api/v1/sql` on a keep-alive connection (undici Agent; a file runs
// thousands of requests).
//
// The answer is {"success":true,"data":{"command","columns","rows","row_count"},"meta"}
// or, HTTP 4xx, {"success":false,"error":{"code","message","sqlstate","position"?}}:
// the latter is an SQL error ({ok:false}). A transport failure, an HTTP 5xx, a
// timeout, an error without a sqlstate (no route, a malformed request) or an
// answer that is not that JSON throws: the runner counts it as a failure
// whatever the record expected (a crash is not "statement error").

import { Agent, request } from 'undici';
import type { Exec, ExecResult } from './slt.js';

export type SqlHttpEngine = {
  readonly exec: Exec;
  close(): Promise<void>;
};

export type SqlHttpEngineOptions = {
  /** Per-request limit for the answer's headers and body (default 60 s). */
  readonly timeoutMs?: number;
};

type SqlAnswer = {
  success?: unknown;
  data?: { rows?: unknown };
  error?: { code?: unknown; message?: unknown; sqlstate?: unknown };
};

function clip(text: string): string {
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
}

export function createSqlHttpEngine(baseUrl: string, options: SqlHttpEngineOptions = {}): SqlHttpEngine {
  const timeoutMs = options.timeoutMs ?? 60_000;
  const url = `${baseUrl.replace(/\/+$/, '')}/api/v1/sql`;
  const agent = new Agent({ connections: 4, keepAliveTimeout: 60_000, keepAliveMaxTimeout: 600_000, headersTimeout: timeoutMs, bodyTimeout: timeoutMs });

  const exec = async (sql: string): Promise<ExecResult> => {
    const response = await request(url, {
      method: 'POST',
      dispatcher: agent,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: sql }),
    });
    const text = await response.body.text();
    const status = response.statusCode;
    let answer: SqlAnswer;
    try {
      answer = JSON.parse(text) as SqlAnswer;
    } catch {
      throw new Error(`HTTP ${status}: not JSON: ${clip(text)}`);
    }
    if (status >= 500) throw new Error(`HTTP ${status}: ${clip(text)}`);
    if (answer.success === true && status < 300) {
      const rows = answer.data?.rows;
      if (rows === undefined || rows === null) return { ok: true, rows: [] };
      if (!Array.isArray(rows) || !rows.every((row) => Array.isArray(row))) throw new Error(`HTTP ${status}: data.rows is not an array of arrays: ${clip(text)}`);
      return { ok: true, rows: rows as unknown[][] };
    }
    if (answer.success === false && typeof answer.error === 'object' && answer.error !== null) {
      const { code, message, sqlstate } = answer.error;
      const text = `${String(code)}${typeof sqlstate === 'string' ? ` [${sqlstate}]` : ''}: ${String(message)} (HTTP ${status})`;
      // An SQL error carries its SQLSTATE; one without (no route, a malformed request) is not an answer to the SQL.
      if (typeof sqlstate !== 'string') throw new Error(`not an SQL error (no sqlstate): ${text}`);
      return { ok: false, message: text };
    }
    throw new Error(`HTTP ${status}: unexpected answer: ${clip(text)}`);
  };

  return { exec, close: () => agent.close() };
}
