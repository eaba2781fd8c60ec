// Small readers of libpg-query's raw parse tree, shared by the binder and the
// statement executor. A node is `{ NodeType: { …fields } }`; protobuf leaves
// out defaults (0, false, empty lists), so every reader has a fallback.

export type N = Record<string, unknown>;

/** The node's type name (`SelectStmt`, `ColumnRef`…). */
export const kindOf = (n: unknown): string => Object.keys(n as object)[0];
/** The node's fields. */
export const bodyOf = (n: unknown): N => (n as Record<string, N>)[kindOf(n)];
/** A `String` node's text ('' when absent). */
export const str = (n: unknown): string => ((n as { String?: { sval?: string } }).String?.sval ?? '') as string;
/** A list field (absent: empty). */
export const list = (v: unknown): N[] => (Array.isArray(v) ? (v as N[]) : []);
/** A node's byte location in the query, when the parser gave one. */
export const loc = (b: N): number | undefined => (typeof b.location === 'number' && b.location >= 0 ? b.location : undefined);
