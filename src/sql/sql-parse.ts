// PostgreSQL's own parser (libpg-query, WASM) behind one function: the text
// of one statement → its raw parse tree, or a 42601 error with PostgreSQL's
// message and position. `loadSqlParser()` must have finished first (the
// server awaits it before its listener opens); parsing is then synchronous.

import { loadModule, parseSync, hasSqlDetails } from 'libpg-query';
import { sqlError } from './sql-errors.js';
import { MantisError } from '../../shared/errors.js';

/** A raw parse-tree node: `{ NodeType: { …fields } }` (see @pgsql/types). */
export type PgNode = Record<string, unknown>;

let loaded: Promise<void> | null = null;

/** Loads the WASM parser once (about 20 ms). */
export function loadSqlParser(): Promise<void> {
  loaded ??= loadModule();
  return loaded;
}

/** Longest query text accepted (characters). */
export const SQL_TEXT_MAX = 1_000_000;

/** Parses exactly one statement. */
export function parseStatement(query: string): PgNode {
  if (query.length > SQL_TEXT_MAX) throw new MantisError('BODY_TOO_LARGE', `a query is at most ${SQL_TEXT_MAX} characters`);
  if (query.trim() === '' || /^[\s;]*$/.test(query)) throw sqlError('42601', 'the query is empty: send one SQL statement');
  let result;
  try {
    result = parseSync(query);
  } catch (e) {
    if (hasSqlDetails(e) && e.sqlDetails !== undefined) {
      // cursorPosition is 0-based in characters: PostgreSQL's position is one more.
      throw new MantisError('SQL_SYNTAX_ERROR', e.sqlDetails.message, { sqlstate: '42601', position: e.sqlDetails.cursorPosition + 1 });
    }
    throw sqlError('42601', e instanceof Error ? e.message : String(e));
  }
  const stmts = (result as { stmts?: { stmt: PgNode }[] }).stmts ?? [];
  if (stmts.length === 0) throw sqlError('42601', 'the query is empty: send one SQL statement');
  if (stmts.length > 1) throw sqlError('42601', 'cannot insert multiple commands into a prepared statement');
  return stmts[0].stmt;
}
