// EXPLAIN output in PostgreSQL's text layout and its FORMAT JSON keys.

import type { PlanNode } from './plan.js';

function cost(node: PlanNode): number {
  return node.children.reduce((s, c) => s + cost(c), 0) + node.estRows * (node.children.length === 0 ? 1 : 0.01);
}

function width(node: PlanNode): number {
  return node.cols.filter((c) => c.hidden !== true).length * 8;
}

export function explainText(root: PlanNode, analyze: boolean, planMs: number, execMs: number): string {
  const lines: string[] = [];
  const visit = (node: PlanNode, depth: number): void => {
    const indent = depth === 0 ? '' : `${' '.repeat(depth * 6 - 6)}  ->  `;
    const detailIndent = ' '.repeat(depth === 0 ? 2 : depth * 6 + 2);
    let line = `${indent}${node.name}  (cost=0.00..${cost(node).toFixed(2)} rows=${Math.round(node.estRows)} width=${width(node)})`;
    if (analyze) {
      line +=
        node.loops === 0
          ? ' (never executed)'
          : ` (actual time=0.000..${(node.ms / node.loops).toFixed(3)} rows=${Math.round(node.actualRows / node.loops)} loops=${node.loops})`;
    }
    lines.push(line);
    for (const d of node.details) lines.push(`${detailIndent}${d}`);
    if (analyze) for (const d of node.analyzeDetails()) lines.push(`${detailIndent}${d}`);
    for (const c of node.children) visit(c, depth + 1);
  };
  visit(root, 0);
  lines.push(`Planning Time: ${planMs.toFixed(3)} ms`);
  if (analyze) lines.push(`Execution Time: ${execMs.toFixed(3)} ms`);
  return lines.join('\n');
}

export function explainJson(root: PlanNode, analyze: boolean, planMs: number, execMs: number): string {
  const node = (n: PlanNode): Record<string, unknown> => {
    const o: Record<string, unknown> = {
      'Node Type': n.name,
      'Startup Cost': 0,
      'Total Cost': Number(cost(n).toFixed(2)),
      'Plan Rows': Math.round(n.estRows),
      'Plan Width': width(n),
    };
    if (analyze) {
      o['Actual Total Time'] = n.loops === 0 ? 0 : Number((n.ms / n.loops).toFixed(3));
      o['Actual Rows'] = n.loops === 0 ? 0 : Math.round(n.actualRows / n.loops);
      o['Actual Loops'] = n.loops;
      const shard = n.analyzeDetails();
      if (shard.length > 0) o['Shards'] = shard;
    }
    for (const d of n.details) {
      const at = d.indexOf(': ');
      if (at > 0) o[d.slice(0, at)] = d.slice(at + 2);
    }
    if (n.children.length > 0) o.Plans = n.children.map(node);
    return o;
  };
  const doc: Record<string, unknown> = { Plan: node(root), 'Planning Time': Number(planMs.toFixed(3)) };
  if (analyze) doc['Execution Time'] = Number(execMs.toFixed(3));
  return JSON.stringify([doc], null, 2);
}
