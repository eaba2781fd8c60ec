// Syntax highlighting for the editors and views: SQL/CQL and JSON, by a
// single-pass tokenizer (no dependency; the editors hold a query, not a file).

import type { ReactNode } from 'react';

export type Language = 'sql' | 'json' | 'text';

const SQL_KEYWORDS = new Set(
  (
    'select from where and or not in is null as on join left right full inner outer cross natural using group by order having limit offset ' +
    'insert into values update set delete create table drop alter add column index unique primary key references default ' +
    'with recursive union all intersect except distinct case when then else end between like ilike exists any some ' +
    'asc desc nulls first last over partition rows range preceding following current row unbounded window filter ' +
    'begin commit rollback transaction isolation level serializable repeatable read committed explain analyze ' +
    'true false if policy enable disable row level security for to grant revoke returning conflict do nothing cast ' +
    'keyspace ttl allow filtering materialized view'
  ).split(' '),
);

const SQL_TOKEN = /(--[^\n]*|\/\*[\s\S]*?\*\/)|('(?:[^']|'')*'?)|("(?:[^"]|"")*"?)|(\b\d+(?:\.\d+)?(?:e[+-]?\d+)?\b)|([A-Za-z_][A-Za-z0-9_$]*)|(\s+|[^\sA-Za-z0-9_'"-]+|-)/gy;
const JSON_TOKEN = /("(?:[^"\\]|\\.)*"?)(\s*:)?|(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)|(true|false|null)\b|(\s+|[^\s"\d-]+|-)/gy;

export function highlight(text: string, language: Language): ReactNode[] {
  if (language === 'text') return [text];
  const out: ReactNode[] = [];
  const re = language === 'sql' ? SQL_TOKEN : JSON_TOKEN;
  re.lastIndex = 0;
  let i = 0;
  let match: RegExpExecArray | null;
  while (i < text.length && (match = re.exec(text)) !== null) {
    const token = match[0];
    if (token === '') break;
    i = re.lastIndex;
    const key = out.length;
    if (language === 'sql') {
      if (match[1] !== undefined) out.push(<span key={key} className="tk-comment">{token}</span>);
      else if (match[2] !== undefined) out.push(<span key={key} className="tk-string">{token}</span>);
      else if (match[3] !== undefined) out.push(<span key={key} className="tk-ident">{token}</span>);
      else if (match[4] !== undefined) out.push(<span key={key} className="tk-number">{token}</span>);
      else if (match[5] !== undefined) out.push(SQL_KEYWORDS.has(token.toLowerCase()) ? <span key={key} className="tk-keyword">{token}</span> : token);
      else out.push(token);
    } else {
      if (match[1] !== undefined) {
        out.push(<span key={key} className={match[2] !== undefined ? 'tk-key' : 'tk-string'}>{match[1]}</span>);
        if (match[2] !== undefined) out.push(match[2]);
      } else if (match[3] !== undefined) out.push(<span key={key} className="tk-number">{token}</span>);
      else if (match[4] !== undefined) out.push(<span key={key} className="tk-keyword">{token}</span>);
      else out.push(token);
    }
  }
  if (i < text.length) out.push(text.slice(i));
  return out;
}
