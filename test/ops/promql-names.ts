// Metric names for test/ops/deploy-files.test.ts: the names a PromQL
// expression selects, the PromQL expressions of a Grafana dashboard and of a
// Prometheus rule file, and the sample names of a Prometheus text exposition.

/** PromQL keywords and operators that look like identifiers. */
const KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'and', 'or', 'unless', 'offset', 'atan2', 'inf', 'nan', 'start', 'end']);

/** Clauses whose parenthesised list holds label names, not metrics. */
const LABEL_LIST = /\b(by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)/g;

/**
 * The metric names an expression selects: identifiers outside strings, label
 * matchers ({…}), ranges and subqueries ([…]) and grouping label lists that
 * are not followed by "(" (functions and aggregations) and are not keywords.
 * Grafana variables ($job, ${x}, $__rate_interval) are not names.
 */
export function promqlMetricNames(expr: string): string[] {
  const text = expr
    .replace(/#[^\n]*/g, ' ')
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
    .replace(/\{[^{}]*\}/g, ' ')
    .replace(/\[[^[\]]*\]/g, ' ')
    .replace(LABEL_LIST, ' ');
  const names = new Set<string>();
  const token = /\$\{[^}]*\}|\$\w+|\d[\w.]*|[A-Za-z_:][\w:]*|\S/g;
  for (let m = token.exec(text); m !== null; m = token.exec(text)) {
    const word = m[0];
    if (!/^[A-Za-z_:]/.test(word)) continue;
    if (/^\s*\(/.test(text.slice(token.lastIndex))) continue;
    if (KEYWORDS.has(word.toLowerCase())) continue;
    names.add(word);
  }
  return [...names];
}

/** A Grafana template variable query: label_values(selector, label) → the selector's PromQL. */
function variableQueryPromql(query: string): string | null {
  const labelValues = /^\s*label_values\((.*),\s*[A-Za-z_]\w*\s*\)\s*$/s.exec(query);
  if (labelValues !== null) return labelValues[1];
  if (/^\s*label_values\(\s*[A-Za-z_]\w*\s*\)\s*$/.test(query) || /^\s*(label_names|metrics)\(/.test(query)) return null;
  const queryResult = /^\s*query_result\((.*)\)\s*$/s.exec(query);
  return queryResult !== null ? queryResult[1] : query;
}

export type Located = { readonly where: string; readonly expr: string };

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Every PromQL expression of a dashboard: panel targets (rows' nested panels too) and query variables. */
export function dashboardExpressions(dashboard: Json): Located[] {
  const found: Located[] = [];
  const visit = (panels: Json | undefined, path: string): void => {
    if (!Array.isArray(panels)) return;
    for (const panel of panels) {
      if (panel === null || typeof panel !== 'object' || Array.isArray(panel)) continue;
      const title = `${path}panel "${String(panel.title ?? panel.id)}"`;
      if (Array.isArray(panel.targets)) {
        for (const target of panel.targets) {
          if (target !== null && typeof target === 'object' && !Array.isArray(target) && typeof target.expr === 'string') {
            found.push({ where: `${title} target ${String(target.refId)}`, expr: target.expr });
          }
        }
      }
      visit(panel.panels, `${title} > `);
    }
  };
  if (dashboard !== null && typeof dashboard === 'object' && !Array.isArray(dashboard)) {
    visit(dashboard.panels, '');
    const templating = dashboard.templating;
    const list = templating !== null && typeof templating === 'object' && !Array.isArray(templating) ? templating.list : undefined;
    for (const variable of Array.isArray(list) ? list : []) {
      if (variable === null || typeof variable !== 'object' || Array.isArray(variable) || variable.type !== 'query') continue;
      const q = variable.query;
      const text = typeof q === 'string' ? q : q !== null && typeof q === 'object' && !Array.isArray(q) && typeof q.query === 'string' ? q.query : null;
      const promql = text === null ? null : variableQueryPromql(text);
      if (promql !== null) found.push({ where: `variable "${String(variable.name)}"`, expr: promql });
    }
  }
  return found;
}

/** Every rule expression of a Prometheus rule file (groups[].rules[].expr). */
export function ruleExpressions(rules: Json): Located[] {
  const found: Located[] = [];
  const groups = rules !== null && typeof rules === 'object' && !Array.isArray(rules) ? rules.groups : undefined;
  for (const group of Array.isArray(groups) ? groups : []) {
    if (group === null || typeof group !== 'object' || Array.isArray(group) || !Array.isArray(group.rules)) continue;
    for (const rule of group.rules) {
      if (rule === null || typeof rule !== 'object' || Array.isArray(rule) || typeof rule.expr !== 'string') continue;
      found.push({ where: `rule "${String(rule.alert ?? rule.record)}"`, expr: rule.expr });
    }
  }
  return found;
}

export type Exposition = {
  /** Names that have at least one sample (histograms as name_bucket, name_sum, name_count). */
  readonly samples: ReadonlySet<string>;
  /** Families declared by # TYPE, expanded to the sample names their type produces. */
  readonly declared: ReadonlySet<string>;
};

/** The sample names and declared families of a Prometheus text exposition. */
export function parseExposition(text: string): Exposition {
  const samples = new Set<string>();
  const declared = new Set<string>();
  for (const line of text.split('\n')) {
    const type = /^#\s*TYPE\s+(\S+)\s+(\S+)/.exec(line);
    if (type !== null) {
      const [, name, kind] = type;
      const suffixes = kind === 'histogram' ? ['_bucket', '_sum', '_count'] : kind === 'summary' ? ['', '_sum', '_count'] : [''];
      for (const suffix of suffixes) declared.add(name + suffix);
      continue;
    }
    const sample = /^([A-Za-z_:][\w:]*)[{\s]/.exec(line);
    if (sample !== null) samples.add(sample[1]);
  }
  return { samples, declared };
}
