// The CQL subset's syntax tree: what cql-parser.ts produces from a statement's
// text and cql-exec.ts maps onto the TableService. Names are already resolved
// the CQL way (unquoted identifiers lower-cased, "quoted" ones kept as
// written); values are still terms (literals, bind markers, function calls)
// because their meaning depends on the column they meet.

/** Where a token began in the statement (1-based line, 0-based column as Cassandra reports them). */
export type CqlPos = { readonly line: number; readonly col: number };

/** A literal as written. text: the string's content, the number's digits, the uuid or 0x… hex as written. */
export type CqlLiteral = {
  readonly kind: 'literal';
  readonly type: 'string' | 'integer' | 'float' | 'boolean' | 'uuid' | 'hex' | 'null';
  readonly text: string;
  readonly pos: CqlPos;
};

/** A bind marker: `?` (name null) or `:name`. index counts markers from 0 across the whole statement (batch included). */
export type CqlBind = { readonly kind: 'bind'; readonly index: number; readonly name: string | null; readonly pos: CqlPos };

/** A function call used as a value: uuid(), now(), toTimestamp(now()), currentTimestamp(), … */
export type CqlCall = { readonly kind: 'call'; readonly name: string; readonly args: readonly CqlTerm[]; readonly pos: CqlPos };

export type CqlTerm = CqlLiteral | CqlBind | CqlCall;

export type QualifiedName = { readonly keyspace: string | null; readonly name: string };

export type RelationOp = '=' | '<' | '<=' | '>' | '>=' | '!=' | 'IN' | 'CONTAINS' | 'CONTAINS KEY' | 'LIKE' | 'IS NOT';

/**
 * One `column op value` of a WHERE clause (relations are always ANDed in CQL).
 * IN takes a list of terms or a single bind marker holding a list.
 */
export type CqlRelation = {
  readonly column: string;
  readonly op: RelationOp;
  readonly value: CqlTerm | readonly CqlTerm[];
  readonly pos: CqlPos;
};

/** An IF condition of an UPDATE or DELETE (lightweight transaction). */
export type CqlCondition = { readonly column: string; readonly op: '=' | '<' | '<=' | '>' | '>=' | '!=' | 'IN'; readonly value: CqlTerm | readonly CqlTerm[]; readonly pos: CqlPos };

/** The table and column types as written: a native type name, or a parameterized one (list<…>, frozen<…>) kept as text. */
export type CqlTypeName = { readonly name: string; readonly params: readonly CqlTypeName[]; readonly pos: CqlPos };

export type CqlColumnDecl = { readonly name: string; readonly type: CqlTypeName; readonly isStatic: boolean; readonly pos: CqlPos };

/** A WITH option value of CREATE TABLE / KEYSPACE: a constant, or a map literal ({'class': 'x'}). */
export type CqlOptionValue = string | number | boolean | { readonly [key: string]: string | number | boolean };

export type CreateTable = {
  readonly kind: 'create-table';
  readonly table: QualifiedName;
  readonly ifNotExists: boolean;
  readonly columns: readonly CqlColumnDecl[];
  /** Partition key columns (from `PRIMARY KEY ((a, b), …)`, `PRIMARY KEY (a, …)` or an inline `a type PRIMARY KEY`). */
  readonly partitionKey: readonly string[];
  readonly clustering: readonly string[];
  /** WITH CLUSTERING ORDER BY (c DESC, …), in the order written. */
  readonly clusteringOrder: readonly { readonly column: string; readonly desc: boolean }[];
  readonly options: ReadonlyMap<string, CqlOptionValue>;
  readonly compactStorage: boolean;
  /** How many PRIMARY KEY declarations there were (Cassandra wants exactly one). */
  readonly primaryKeyDecls: number;
};

export type DropTable = { readonly kind: 'drop-table'; readonly table: QualifiedName; readonly ifExists: boolean };
export type TruncateTable = { readonly kind: 'truncate'; readonly table: QualifiedName };
export type AlterTableAdd = { readonly kind: 'alter-table-add'; readonly table: QualifiedName; readonly columns: readonly CqlColumnDecl[] };

export type CreateIndex = {
  readonly kind: 'create-index';
  /** null: Cassandra's default name <table>_<column>_idx. */
  readonly name: string | null;
  readonly ifNotExists: boolean;
  readonly table: QualifiedName;
  readonly column: string;
  /** CREATE CUSTOM INDEX … USING 'class' (the class is ignored). */
  readonly custom: boolean;
};

export type DropIndex = { readonly kind: 'drop-index'; readonly index: QualifiedName; readonly ifExists: boolean };

export type CreateKeyspace = { readonly kind: 'create-keyspace'; readonly keyspace: string; readonly ifNotExists: boolean };
export type DropKeyspace = { readonly kind: 'drop-keyspace'; readonly keyspace: string; readonly ifExists: boolean };
export type UseKeyspace = { readonly kind: 'use'; readonly keyspace: string };

/** USING TTL n / USING TIMESTAMP n of a write. */
export type CqlUsing = { readonly ttl: CqlTerm | null; readonly timestamp: CqlTerm | null };

export type Insert = {
  readonly kind: 'insert';
  readonly table: QualifiedName;
  /** INSERT … (cols) VALUES (…): the columns and values; INSERT … JSON: both empty. */
  readonly columns: readonly string[];
  readonly values: readonly CqlTerm[];
  /** INSERT … JSON '{…}' (a string literal or a bind marker), with DEFAULT NULL (true, the default) or DEFAULT UNSET. */
  readonly json: { readonly value: CqlTerm; readonly defaultNull: boolean } | null;
  readonly ifNotExists: boolean;
  readonly using: CqlUsing;
  readonly pos: CqlPos;
};

export type CqlAssignment = { readonly column: string; readonly value: CqlTerm; readonly pos: CqlPos };

export type Update = {
  readonly kind: 'update';
  readonly table: QualifiedName;
  readonly using: CqlUsing;
  readonly set: readonly CqlAssignment[];
  readonly where: readonly CqlRelation[];
  readonly ifExists: boolean;
  readonly conditions: readonly CqlCondition[];
};

export type Delete = {
  readonly kind: 'delete';
  readonly table: QualifiedName;
  /** DELETE a, b FROM …: the columns to null out; empty: the rows. */
  readonly columns: readonly string[];
  readonly using: CqlUsing;
  readonly where: readonly CqlRelation[];
  readonly ifExists: boolean;
  readonly conditions: readonly CqlCondition[];
};

/** One selected expression: a column, COUNT(*), or an aggregate over a column. */
export type CqlSelector =
  | { readonly kind: 'column'; readonly column: string; readonly alias: string | null; readonly pos: CqlPos }
  | { readonly kind: 'count-star'; readonly alias: string | null; readonly pos: CqlPos }
  | { readonly kind: 'aggregate'; readonly fn: 'count' | 'sum' | 'min' | 'max' | 'avg'; readonly column: string; readonly alias: string | null; readonly pos: CqlPos }
  | { readonly kind: 'function'; readonly name: string; readonly alias: string | null; readonly pos: CqlPos };

export type Select = {
  readonly kind: 'select';
  readonly table: QualifiedName;
  readonly distinct: boolean;
  readonly json: boolean;
  /** null: SELECT *. */
  readonly selectors: readonly CqlSelector[] | null;
  readonly where: readonly CqlRelation[];
  readonly groupBy: readonly string[];
  readonly orderBy: readonly { readonly column: string; readonly desc: boolean; readonly pos: CqlPos }[];
  readonly perPartitionLimit: CqlTerm | null;
  readonly limit: CqlTerm | null;
  readonly allowFiltering: boolean;
};

export type BatchStatement = Insert | Update | Delete;

export type Batch = {
  readonly kind: 'batch';
  readonly type: 'logged' | 'unlogged' | 'counter';
  readonly using: CqlUsing;
  readonly statements: readonly BatchStatement[];
};

export type CqlStatement =
  | CreateTable
  | DropTable
  | TruncateTable
  | AlterTableAdd
  | CreateIndex
  | DropIndex
  | CreateKeyspace
  | DropKeyspace
  | UseKeyspace
  | Insert
  | Update
  | Delete
  | Select
  | Batch;

/** A parsed statement and how many bind markers it holds (with their names, null for `?`). */
export type ParsedCql = { readonly statement: CqlStatement; readonly binds: readonly (string | null)[] };
