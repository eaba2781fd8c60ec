// SQL text helpers for the SQL and CQL editors (pure functions, no React):
// splitting an editor's text into statements (the server runs one per
// request), deciding whether a statement only reads (a reload may re-run it),
// and turning an EXPLAIN answer into a tree.

export type Statement = {
  readonly text: string;
  /** Offset of the statement's first character in the whole text (for error positions). */
  readonly start: number;
};

/**
 * Splits on `;` outside string literals, quoted identifiers, dollar-quoted bodies and comments.
 * Empty statements (and ones that are only comments) are dropped.
 */
export function splitStatements(text: string): Statement[] {
  const out: Statement[] = [];
  let start = 0;
  let i = 0;
  const push = (end: number): void => {
    const raw = text.slice(start, end);
    const lead = raw.length - raw.trimStart().length;
    const body = raw.trim();
    if (stripComments(body).trim() !== '') out.push({ text: body, start: start + lead });
  };
  while (i < text.length) {
    const c = text[i];
    const next = text[i + 1];
    if (c === '-' && next === '-') {
      const nl = text.indexOf('\n', i);
      i = nl < 0 ? text.length : nl + 1;
    } else if (c === '/' && next === '*') {
      const end = text.indexOf('*/', i + 2);
      i = end < 0 ? text.length : end + 2;
    } else if (c === "'" || c === '"') {
      // A doubled quote inside is an escaped quote: skipping to the next quote and going on handles it.
      const end = text.indexOf(c, i + 1);
      i = end < 0 ? text.length : end + 1;
    } else if (c === '$') {
      const tag = /^\$[A-Za-z_]?[A-Za-z0-9_]*\$/.exec(text.slice(i));
      if (tag === null) {
        i++;
        continue;
      }
      const end = text.indexOf(tag[0], i + tag[0].length);
      i = end < 0 ? text.length : end + tag[0].length;
    } else if (c === ';') {
      push(i);
      start = i + 1;
      i++;
    } else i++;
  }
  push(text.length);
  return out;
}

/** The text without -- and /* *\/ comments, and with string literals emptied (for keyword checks). */
export function stripComments(text: string, emptyStrings = false): string {
  let out = '';
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    const next = text[i + 1];
    if (c === '-' && next === '-') {
      const nl = text.indexOf('\n', i);
      i = nl < 0 ? text.length : nl;
      out += ' ';
    } else if (c === '/' && next === '*') {
      const end = text.indexOf('*/', i + 2);
      i = end < 0 ? text.length : end + 2;
      out += ' ';
    } else if (c === "'" && emptyStrings) {
      const end = text.indexOf("'", i + 1);
      i = end < 0 ? text.length : end + 1;
      out += "''";
    } else if (c === '$' && emptyStrings && /^\$[A-Za-z_]?[A-Za-z0-9_]*\$/.test(text.slice(i))) {
      const tag = /^\$[A-Za-z_]?[A-Za-z0-9_]*\$/.exec(text.slice(i))?.[0] ?? '$$';
      const end = text.indexOf(tag, i + tag.length);
      i = end < 0 ? text.length : end + tag.length;
      out += "''";
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

/** The first keyword, upper-cased ('' for none). */
export function firstKeyword(statement: string): string {
  return /^[\s(]*([A-Za-z]+)/.exec(stripComments(statement))?.[1]?.toUpperCase() ?? '';
}

const READ_STARTS = new Set(['SELECT', 'WITH', 'EXPLAIN', 'SHOW', 'VALUES', 'TABLE']);
/** Words that write (or run what they explain) wherever they appear: WITH … DELETE, SELECT … INTO, EXPLAIN ANALYZE. */
const WRITE_WORDS = /\b(INSERT|UPDATE|DELETE|MERGE|UPSERT|INTO|CREATE|DROP|ALTER|TRUNCATE|GRANT|REVOKE|COPY|CALL|DO|ANALYZE|ANALYSE|SET|LOCK|BEGIN|COMMIT|ROLLBACK|APPLY|BATCH|NEXTVAL|SETVAL)\b/i;

/**
 * True when every statement only reads: it starts with SELECT, WITH, EXPLAIN, SHOW, VALUES or
 * TABLE and names no writing keyword outside strings and comments. A reload re-runs only such text;
 * anything else is put back in the editor and waits for a click.
 */
export function isReadOnly(text: string): boolean {
  const statements = splitStatements(text);
  if (statements.length === 0) return false;
  return statements.every((s) => READ_STARTS.has(firstKeyword(s.text)) && !WRITE_WORDS.test(stripComments(s.text, true)));
}

/** Line and column (1-based) of a 0-based offset in text. */
export function lineColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, Math.max(0, Math.min(offset, text.length)));
  const lines = before.split('\n');
  return { line: lines.length, column: lines[lines.length - 1].length + 1 };
}

// ---- EXPLAIN → tree -------------------------------------------------------------------------

/** A plan node as shown by the Tree component: `node` is its one-line summary, children are keyed by their name. */
export type PlanTree = { [key: string]: unknown };

type JsonPlan = { [key: string]: unknown; 'Node Type'?: string; Plans?: JsonPlan[] };

const SUMMARY_KEYS = ['Startup Cost', 'Total Cost', 'Plan Rows', 'Plan Width', 'Actual Startup Time', 'Actual Total Time', 'Actual Rows', 'Actual Loops'];

function uniqueKey(target: PlanTree, name: string): string {
  if (!(name in target)) return name;
  for (let n = 2; ; n++) if (!(`${name} #${n}` in target)) return `${name} #${n}`;
}

function jsonNode(plan: JsonPlan): PlanTree {
  const cost = plan['Total Cost'] === undefined ? '' : `cost=${fixed(plan['Startup Cost'])}..${fixed(plan['Total Cost'])} rows=${String(plan['Plan Rows'] ?? '?')}`;
  const actual = plan['Actual Total Time'] === undefined ? '' : ` · actual ${fixed(plan['Actual Total Time'], 3)} ms, ${String(plan['Actual Rows'] ?? '?')} rows, ${String(plan['Actual Loops'] ?? 1)} loop${plan['Actual Loops'] === 1 ? '' : 's'}`;
  const node: PlanTree = { node: (cost + actual).trim() || 'plan node' };
  for (const [k, v] of Object.entries(plan)) {
    if (k === 'Node Type' || k === 'Plans' || SUMMARY_KEYS.includes(k)) continue;
    node[k] = v;
  }
  for (const child of plan.Plans ?? []) node[uniqueKey(node, `→ ${child['Node Type'] ?? 'node'}`)] = jsonNode(child);
  return node;
}

const fixed = (v: unknown, digits = 2): string => (typeof v === 'number' ? v.toFixed(digits) : String(v ?? '?'));

/** EXPLAIN (FORMAT JSON)'s answer: [{"Plan": {…}, "Planning Time": …, "Execution Time": …}]. */
export function planFromJson(json: unknown): PlanTree | null {
  const top = Array.isArray(json) ? json[0] : json;
  if (top === null || typeof top !== 'object' || !('Plan' in top)) return null;
  const t = top as { Plan: JsonPlan } & Record<string, unknown>;
  const tree: PlanTree = { [`→ ${t.Plan['Node Type'] ?? 'Plan'}`]: jsonNode(t.Plan) };
  for (const [k, v] of Object.entries(t)) if (k !== 'Plan') tree[k] = typeof v === 'number' ? `${v} ms` : v;
  return hoist(tree);
}

/**
 * The top plan node becomes the tree's root (its name and the timings in the root's summary):
 * one level less, so the Tree's default unfolding reaches one node deeper.
 */
function hoist(tree: PlanTree): PlanTree {
  const nodes = Object.keys(tree).filter((k) => k.startsWith('→ '));
  if (nodes.length !== 1) return tree;
  const top = tree[nodes[0]] as PlanTree;
  const { node, ...rest } = top;
  const timings = [tree['Planning Time'] === undefined ? '' : `planned in ${String(tree['Planning Time'])}`, tree['Execution Time'] === undefined ? '' : `ran in ${String(tree['Execution Time'])}`].filter((x) => x !== '');
  const out: PlanTree = { node: [nodes[0].slice(2), node === 'plan node' ? '' : String(node), timings.join(', ')].filter((x) => x !== '').join(' · '), ...rest };
  for (const [k, v] of Object.entries(tree)) if (k !== nodes[0]) out[k] = v;
  return out;
}

/**
 * EXPLAIN's text lines (PostgreSQL's layout: a node per line, children after "->" indented
 * deeper, details such as "Hash Cond: …" indented under their node) → the same tree shape.
 */
export function planFromText(lines: readonly string[]): PlanTree {
  const root: PlanTree = { node: 'query plan' };
  // The open nodes, deepest last, with the column where their details start.
  const stack: { indent: number; node: PlanTree }[] = [{ indent: -1, node: root }];
  lines.forEach((raw, index) => {
    if (raw.trim() === '') return;
    const indent = raw.length - raw.trimStart().length;
    const text = raw.trim();
    const arrow = text.startsWith('->');
    const isNode = index === 0 || arrow;
    const body = arrow ? text.slice(2).trim() : text;
    const at = arrow ? indent + 2 : indent;
    while (stack.length > 1 && stack[stack.length - 1].indent >= at) stack.pop();
    const parent = stack[stack.length - 1].node;
    if (isNode) {
      const m = /^(.*?)\s+\((cost=[^)]*)\)(?:\s+\((actual[^)]*)\))?\s*$/.exec(body);
      const name = m === null ? body : m[1];
      const node: PlanTree = { node: m === null ? 'plan node' : [m[2], m[3]].filter((x) => x !== undefined).join(' · ') };
      parent[uniqueKey(parent, `→ ${name}`)] = node;
      stack.push({ indent: at, node });
      return;
    }
    const colon = body.indexOf(': ');
    if (colon > 0 && stack.length === 1 && /^(Planning|Execution) Time$/.test(body.slice(0, colon))) {
      root[body.slice(0, colon)] = body.slice(colon + 2);
      return;
    }
    if (colon > 0) parent[uniqueKey(parent, body.slice(0, colon))] = body.slice(colon + 2);
    else parent[uniqueKey(parent, 'detail')] = body;
  });
  const { node: _summary, ...rest } = root;
  return hoist(rest);
}

/** An EXPLAIN answer's rows (one text column) as a tree: JSON when it is one JSON cell, else the text layout. */
export function planTree(rows: readonly (readonly unknown[])[]): PlanTree {
  const cells = rows.map((r) => (typeof r[0] === 'string' ? r[0] : JSON.stringify(r[0])));
  if (cells.length === 1 && /^\s*[[{]/.test(cells[0])) {
    try {
      const tree = planFromJson(JSON.parse(cells[0]) as unknown);
      if (tree !== null) return tree;
    } catch {
      // not JSON after all: read it as text
    }
  }
  return planFromText(cells.flatMap((c) => c.split('\n')));
}
