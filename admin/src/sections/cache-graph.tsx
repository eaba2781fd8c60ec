// The dependency graph of one key, as inline SVG: its parents (keys whose
// change invalidates it) on the left, the key in the middle, its children
// (keys it invalidates) on the right. Every node is a link.

import type { MouseEvent } from 'react';
import { BASE, navigate } from '../router';
import { pathWith } from './kv-link';

const WIDTH = 640;
const NODE_W = 180;
const NODE_H = 30;
const ROW = 40;
const TOP = 30;
/** Nodes drawn per side; the rest are summed up in a "+N more" node. */
const SIDE_MAX = 10;

type Node = { readonly key: string; readonly x: number; readonly y: number; readonly more?: number };

function label(key: string): string {
  return key.length > 22 ? `${key.slice(0, 21)}…` : key;
}

function column(keys: readonly string[], x: number, height: number): Node[] {
  const shown = keys.slice(0, SIDE_MAX);
  const nodes: Node[] = shown.map((key) => ({ key, x, y: 0 }));
  if (keys.length > SIDE_MAX) nodes.push({ key: '', x, y: 0, more: keys.length - SIDE_MAX });
  const top = TOP + (height - TOP - nodes.length * ROW) / 2;
  return nodes.map((n, i) => ({ ...n, y: top + i * ROW + (ROW - NODE_H) / 2 }));
}

function GraphNode({ node, to, kind, title }: { node: Node; to: string | null; kind: 'center' | 'side'; title: string }) {
  const body = (
    <>
      <title>{title}</title>
      <rect x={node.x} y={node.y} width={NODE_W} height={NODE_H} rx={6} />
      <text x={node.x + NODE_W / 2} y={node.y + NODE_H / 2} dominantBaseline="central" textAnchor="middle">
        {node.more !== undefined ? `+${node.more} more` : label(node.key)}
      </text>
    </>
  );
  if (to === null) return <g className="dep-node more">{body}</g>;
  const onClick = (e: MouseEvent<Element>): void => {
    if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey) return;
    e.preventDefault();
    navigate(to);
  };
  return (
    <a href={`${BASE}${to}`} className={`dep-node ${kind}`} onClick={onClick} aria-label={title}>
      {body}
    </a>
  );
}

export function DependencyGraph({ center, parents, children }: { center: string; parents: readonly string[]; children: readonly string[] }) {
  const rows = Math.max(Math.min(Math.max(parents.length, children.length), SIDE_MAX + 1), 1);
  const height = TOP + rows * ROW + 10;
  const left = column(parents, 8, height);
  const right = column(children, WIDTH - NODE_W - 8, height);
  const mid: Node = { key: center, x: (WIDTH - NODE_W) / 2, y: TOP + (height - TOP - NODE_H) / 2 };
  const cy = mid.y + NODE_H / 2;
  const edge = (x1: number, y1: number, x2: number, y2: number): string => {
    const dx = (x2 - x1) / 2;
    return `M${x1},${y1} C${x1 + dx},${y1} ${x2 - dx},${y2} ${x2 - 4},${y2}`;
  };
  const depOf = (key: string): string => pathWith('cache', { dep: key });
  return (
    <svg className="dep-graph" viewBox={`0 0 ${WIDTH} ${height}`} role="group" aria-label={`Dependency graph of ${center}: ${parents.length} parents, ${children.length} children`}>
      <defs>
        <marker id="dep-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
          <path d="M0,0 L10,5 L0,10 z" className="dep-arrow" />
        </marker>
      </defs>
      <text x={8} y={14} className="dep-heading">
        Parents (invalidate it)
      </text>
      <text x={WIDTH - 8} y={14} className="dep-heading" textAnchor="end">
        Children (it invalidates)
      </text>
      {left.map((n) => (
        <path key={`l${n.key}${n.more ?? ''}`} className="dep-edge" d={edge(n.x + NODE_W, n.y + NODE_H / 2, mid.x, cy)} markerEnd="url(#dep-arrow)" />
      ))}
      {right.map((n) => (
        <path key={`r${n.key}${n.more ?? ''}`} className="dep-edge" d={edge(mid.x + NODE_W, cy, n.x, n.y + NODE_H / 2)} markerEnd="url(#dep-arrow)" />
      ))}
      {left.map((n) => (
        <GraphNode key={`L${n.key}${n.more ?? ''}`} node={n} kind="side" to={n.more === undefined ? depOf(n.key) : null} title={n.more === undefined ? `Dependencies of ${n.key} (parent)` : `${n.more} more parents, listed beside the graph`} />
      ))}
      <GraphNode node={mid} kind="center" to={pathWith('kv', { key: center })} title={`Open ${center} in Key-value`} />
      {right.map((n) => (
        <GraphNode key={`R${n.key}${n.more ?? ''}`} node={n} kind="side" to={n.more === undefined ? depOf(n.key) : null} title={n.more === undefined ? `Dependencies of ${n.key} (child)` : `${n.more} more children, listed beside the graph`} />
      ))}
    </svg>
  );
}
