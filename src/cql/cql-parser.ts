// The CQL parser: a hand-written recursive descent over cql-lexer's tokens,
// following the shape of Cassandra's Parser.g for the statements MantisDB
// runs (see cql-ast.ts). It checks syntax only; names, types and Cassandra's
// WHERE rules are the executor's (cql-exec.ts). Syntax errors are
// SyntaxException with ANTLR-like messages ("line 1:7 mismatched input 'x'
// expecting K_FROM"); a few shapes that parse in Cassandra but that we do not
// run (collections, token(), multi-column relations) are refused here as
// Invalid so the message says what is missing.

import { MantisError } from '../../shared/errors.js';
import type {
  AlterTableAdd,
  Batch,
  BatchStatement,
  CqlAssignment,
  CqlColumnDecl,
  CqlCondition,
  CqlOptionValue,
  CqlPos,
  CqlRelation,
  CqlSelector,
  CqlStatement,
  CqlTerm,
  CqlTypeName,
  CqlUsing,
  CreateIndex,
  CreateTable,
  Delete,
  Insert,
  ParsedCql,
  QualifiedName,
  RelationOp,
  Select,
  Update,
} from './cql-ast.js';
import { syntaxError, tokenize, type Token } from './cql-lexer.js';

/** Cassandra's reserved keywords: never identifiers unless "quoted". */
const RESERVED = new Set([
  'add', 'allow', 'alter', 'and', 'apply', 'asc', 'authorize', 'batch', 'begin', 'by', 'columnfamily', 'create',
  'delete', 'desc', 'describe', 'drop', 'entries', 'execute', 'from', 'full', 'grant', 'if', 'in', 'index',
  'infinity', 'insert', 'into', 'keyspace', 'limit', 'modify', 'nan', 'norecursive', 'not', 'null', 'of', 'on', 'or',
  'order', 'primary', 'rename', 'replace', 'revoke', 'schema', 'select', 'set', 'table', 'to', 'token', 'truncate',
  'unlogged', 'update', 'use', 'using', 'view', 'where', 'with',
]);

const AGGREGATES = new Set(['count', 'sum', 'min', 'max', 'avg']);

/** The longest statement text accepted (1 MiB): a guard, Cassandra's frame limit is far larger but our bodies are JSON. */
export const CQL_MAX_LENGTH = 1 << 20;
/** How deep function calls and type parameters may nest (the parser recurses on them). */
export const CQL_MAX_NESTING = 32;

/** Parses one CQL statement (an optional trailing ';'). */
export function parseCql(text: string): ParsedCql {
  if (text.length > CQL_MAX_LENGTH) throw new MantisError('SyntaxException', `the statement is longer than ${CQL_MAX_LENGTH} characters`);
  const p = new Parser(tokenize(text));
  const statement = p.statement();
  p.eat(';');
  p.expectEof();
  return { statement, binds: p.binds };
}

function invalid(message: string): MantisError {
  return new MantisError('Invalid', message);
}

class Parser {
  private i = 0;
  private depth = 0;
  readonly binds: (string | null)[] = [];

  constructor(private readonly tokens: Token[]) {}

  // ---- token helpers ----

  private peek(ahead = 0): Token {
    return this.tokens[Math.min(this.i + ahead, this.tokens.length - 1)];
  }
  private next(): Token {
    const t = this.tokens[this.i];
    if (t.kind !== 'eof') this.i++;
    return t;
  }
  /** Is the token the keyword (a word, case-insensitive)? */
  private isKw(t: Token, kw: string): boolean {
    return t.kind === 'word' && t.lower === kw;
  }
  private atKw(kw: string, ahead = 0): boolean {
    return this.isKw(this.peek(ahead), kw);
  }
  private eatKw(kw: string): boolean {
    if (!this.atKw(kw)) return false;
    this.i++;
    return true;
  }
  private kw(kw: string): Token {
    if (!this.atKw(kw)) throw this.mismatch(`K_${kw.toUpperCase()}`);
    return this.next();
  }
  private at(punct: string, ahead = 0): boolean {
    const t = this.peek(ahead);
    return t.kind === 'punct' && t.text === punct;
  }
  eat(punct: string): boolean {
    if (!this.at(punct)) return false;
    this.i++;
    return true;
  }
  private expect(punct: string): Token {
    if (!this.at(punct)) throw this.mismatch(`'${punct}'`);
    return this.next();
  }
  expectEof(): void {
    if (this.peek().kind !== 'eof') throw this.mismatch('EOF');
  }
  private shown(t: Token): string {
    if (t.kind === 'eof') return '<EOF>';
    if (t.kind === 'string') return `'${t.text}'`;
    if (t.kind === 'quoted') return `"${t.text}"`;
    return t.text;
  }
  private mismatch(expecting: string): MantisError {
    const t = this.peek();
    return syntaxError(t.pos, `mismatched input '${this.shown(t)}' expecting ${expecting}`);
  }
  private noViable(t: Token = this.peek()): MantisError {
    return syntaxError(t.pos, `no viable alternative at input '${this.shown(t)}'`);
  }

  /** One level deeper into a call or a type's parameters; refused past CQL_MAX_NESTING. */
  private nest(t: Token): void {
    if (++this.depth > CQL_MAX_NESTING) throw syntaxError(t.pos, `nesting deeper than ${CQL_MAX_NESTING} levels`);
  }

  /** An identifier: an unquoted word that is not reserved (lower-cased) or a "quoted name" (as written). */
  private ident(): string {
    const t = this.peek();
    if (t.kind === 'quoted') {
      this.i++;
      return t.text;
    }
    if (t.kind === 'word' && !RESERVED.has(t.lower)) {
      this.i++;
      return t.lower;
    }
    throw this.noViable(t);
  }
  private atIdent(ahead = 0): boolean {
    const t = this.peek(ahead);
    return t.kind === 'quoted' || (t.kind === 'word' && !RESERVED.has(t.lower));
  }
  private qualified(): QualifiedName {
    const first = this.ident();
    if (this.eat('.')) return { keyspace: first, name: this.ident() };
    return { keyspace: null, name: first };
  }
  private ifNotExists(): boolean {
    if (!this.atKw('if')) return false;
    this.i++;
    this.kw('not');
    this.kw('exists');
    return true;
  }
  private ifExists(): boolean {
    if (!this.atKw('if') || !this.atKw('exists', 1)) return false;
    this.i += 2;
    return true;
  }

  // ---- statements ----

  statement(): CqlStatement {
    const t = this.peek();
    if (t.kind !== 'word') throw this.noViable(t);
    switch (t.lower) {
      case 'select':
        return this.select();
      case 'insert':
        return this.insert();
      case 'update':
        return this.update();
      case 'delete':
        return this.delete();
      case 'begin':
        return this.batch();
      case 'create':
        return this.create();
      case 'drop':
        return this.drop();
      case 'alter':
        return this.alter();
      case 'truncate':
        this.i++;
        if (!this.eatKw('table')) this.eatKw('columnfamily');
        return { kind: 'truncate', table: this.qualified() };
      case 'use':
        this.i++;
        return { kind: 'use', keyspace: this.ident() };
      default:
        throw this.noViable(t);
    }
  }

  private select(): Select {
    this.kw('select');
    const json = this.atKw('json') && !this.at(',', 1) && !this.atKw('from', 1) && !this.atKw('as', 1) && !this.at('(', 1) ? (this.i++, true) : false;
    const distinct = this.atKw('distinct') && !this.at(',', 1) && !this.atKw('from', 1) && !this.atKw('as', 1) ? (this.i++, true) : false;
    let selectors: CqlSelector[] | null;
    if (this.eat('*')) selectors = null;
    else {
      selectors = [this.selector()];
      while (this.eat(',')) selectors.push(this.selector());
    }
    this.kw('from');
    const table = this.qualified();
    const where = this.eatKw('where') ? this.whereClause() : [];
    const groupBy: string[] = [];
    if (this.atKw('group')) {
      this.i++;
      this.kw('by');
      groupBy.push(this.ident());
      while (this.eat(',')) groupBy.push(this.ident());
    }
    const orderBy: { column: string; desc: boolean; pos: CqlPos }[] = [];
    if (this.eatKw('order')) {
      this.kw('by');
      do {
        const pos = this.peek().pos;
        const column = this.ident();
        let desc = false;
        if (this.eatKw('desc')) desc = true;
        else this.eatKw('asc');
        orderBy.push({ column, desc, pos });
      } while (this.eat(','));
    }
    let perPartitionLimit: CqlTerm | null = null;
    if (this.atKw('per')) {
      this.i++;
      this.kw('partition');
      this.kw('limit');
      perPartitionLimit = this.intOrBind();
    }
    const limit = this.eatKw('limit') ? this.intOrBind() : null;
    let allowFiltering = false;
    if (this.eatKw('allow')) {
      this.kw('filtering');
      allowFiltering = true;
    }
    return { kind: 'select', table, distinct, json, selectors, where, groupBy, orderBy, perPartitionLimit, limit, allowFiltering };
  }

  private intOrBind(): CqlTerm {
    const t = this.peek();
    if (t.kind === 'integer') {
      this.i++;
      return { kind: 'literal', type: 'integer', text: t.text, pos: t.pos };
    }
    if (t.kind === 'qmark' || t.kind === 'named') return this.term();
    throw this.mismatch('INTEGER');
  }

  private selector(): CqlSelector {
    const t = this.peek();
    const pos = t.pos;
    let sel: CqlSelector;
    if (this.atIdent() && this.at('(', 1)) {
      const name = this.ident();
      this.expect('(');
      if (name === 'count' && (this.at('*') || (this.peek().kind === 'integer' && this.peek().text === '1'))) {
        this.i++;
        this.expect(')');
        sel = { kind: 'count-star', alias: null, pos };
      } else if (AGGREGATES.has(name) && this.atIdent() && this.at(')', 1)) {
        const column = this.ident();
        this.expect(')');
        sel = { kind: 'aggregate', fn: name as 'count' | 'sum' | 'min' | 'max' | 'avg', column, alias: null, pos };
      } else {
        this.skipBalanced();
        sel = { kind: 'function', name, alias: null, pos };
      }
    } else if (t.kind === 'word' && t.lower === 'token' && this.at('(', 1)) {
      this.i++;
      this.expect('(');
      this.skipBalanced();
      sel = { kind: 'function', name: 'token', alias: null, pos };
    } else {
      sel = { kind: 'column', column: this.ident(), alias: null, pos };
    }
    if (this.eatKw('as')) return { ...sel, alias: this.ident() };
    return sel;
  }

  /** Skips to the ')' closing an already-opened '(' (function arguments we do not model). */
  private skipBalanced(): void {
    let depth = 1;
    for (;;) {
      const t = this.next();
      if (t.kind === 'eof') throw this.mismatch("')'");
      if (t.kind === 'qmark' || t.kind === 'named') this.binds.push(t.kind === 'named' ? t.text : null);
      if (t.kind === 'punct' && t.text === '(') depth++;
      if (t.kind === 'punct' && t.text === ')' && --depth === 0) return;
    }
  }

  private whereClause(): CqlRelation[] {
    const out = [this.relation()];
    while (this.eatKw('and')) out.push(this.relation());
    return out;
  }

  private relation(): CqlRelation {
    const t = this.peek();
    if (this.isKw(t, 'token') && this.at('(', 1)) throw invalid('token() relations are not supported');
    if (this.at('(')) throw invalid('multi-column relations ((a, b) > (1, 2)) are not supported');
    const pos = t.pos;
    const column = this.ident();
    const opTok = this.peek();
    if (opTok.kind === 'punct' && ['=', '<', '<=', '>', '>=', '!='].includes(opTok.text)) {
      this.i++;
      return { column, op: opTok.text as RelationOp, value: this.term(), pos };
    }
    if (this.eatKw('in')) return { column, op: 'IN', value: this.inValues(), pos };
    if (this.eatKw('contains')) {
      const key = this.eatKw('key');
      return { column, op: key ? 'CONTAINS KEY' : 'CONTAINS', value: this.term(), pos };
    }
    if (this.eatKw('like')) return { column, op: 'LIKE', value: this.term(), pos };
    if (this.eatKw('is')) {
      this.kw('not');
      const nullTok = this.kw('null');
      return { column, op: 'IS NOT', value: { kind: 'literal', type: 'null', text: 'null', pos: nullTok.pos }, pos };
    }
    throw this.noViable(opTok);
  }

  /** IN ( term, … ) or IN ? — the latter a single bind marker holding a list. */
  private inValues(): CqlTerm | CqlTerm[] {
    if (this.peek().kind === 'qmark' || this.peek().kind === 'named') return this.term();
    this.expect('(');
    const values: CqlTerm[] = [];
    if (!this.at(')')) {
      values.push(this.term());
      while (this.eat(',')) values.push(this.term());
    }
    this.expect(')');
    return values;
  }

  /** A value: literal, bind marker or function call. */
  private term(): CqlTerm {
    const t = this.peek();
    switch (t.kind) {
      case 'string':
        this.i++;
        return { kind: 'literal', type: 'string', text: t.text, pos: t.pos };
      case 'integer':
        this.i++;
        return { kind: 'literal', type: 'integer', text: t.text, pos: t.pos };
      case 'float':
        this.i++;
        return { kind: 'literal', type: 'float', text: t.text, pos: t.pos };
      case 'uuid':
        this.i++;
        return { kind: 'literal', type: 'uuid', text: t.text, pos: t.pos };
      case 'hex':
        this.i++;
        return { kind: 'literal', type: 'hex', text: t.text, pos: t.pos };
      case 'qmark':
        this.i++;
        this.binds.push(null);
        return { kind: 'bind', index: this.binds.length - 1, name: null, pos: t.pos };
      case 'named':
        this.i++;
        this.binds.push(t.text);
        return { kind: 'bind', index: this.binds.length - 1, name: t.text, pos: t.pos };
      case 'punct':
        if (t.text === '-' && (this.atKw('nan', 1) || this.atKw('infinity', 1))) {
          this.i += 2;
          return { kind: 'literal', type: 'float', text: `-${this.tokens[this.i - 1].text}`, pos: t.pos };
        }
        if (t.text === '[' || t.text === '{') throw invalid('collection literals are not supported (MantisDB tables have no collection types)');
        if (t.text === '(') throw invalid('tuple literals and type casts are not supported');
        throw this.noViable(t);
      case 'word': {
        const w = t.lower;
        if (w === 'true' || w === 'false') {
          this.i++;
          return { kind: 'literal', type: 'boolean', text: w, pos: t.pos };
        }
        if (w === 'null') {
          this.i++;
          return { kind: 'literal', type: 'null', text: 'null', pos: t.pos };
        }
        if (w === 'nan' || w === 'infinity') {
          this.i++;
          return { kind: 'literal', type: 'float', text: t.text, pos: t.pos };
        }
        if ((this.atIdent() || w === 'token') && this.at('(', 1)) {
          this.i += 2;
          this.nest(t);
          const args: CqlTerm[] = [];
          if (!this.at(')')) {
            args.push(this.term());
            while (this.eat(',')) args.push(this.term());
          }
          this.expect(')');
          this.depth--;
          return { kind: 'call', name: w, args, pos: t.pos };
        }
        throw this.noViable(t);
      }
      default:
        throw this.noViable(t);
    }
  }

  private using(allowTtl: boolean): CqlUsing {
    let ttl: CqlTerm | null = null;
    let timestamp: CqlTerm | null = null;
    if (!this.eatKw('using')) return { ttl, timestamp };
    do {
      if (allowTtl && this.eatKw('ttl')) ttl = this.intOrBind();
      else if (this.eatKw('timestamp')) timestamp = this.intOrBind();
      else throw this.mismatch(allowTtl ? 'K_TTL' : 'K_TIMESTAMP');
    } while (this.eatKw('and'));
    return { ttl, timestamp };
  }

  private insert(): Insert {
    const pos = this.kw('insert').pos;
    this.kw('into');
    const table = this.qualified();
    if (this.eatKw('json')) {
      const value = this.term();
      if (value.kind === 'call' || (value.kind === 'literal' && value.type !== 'string')) throw this.mismatch('STRING_LITERAL');
      let defaultNull = true;
      if (this.eatKw('default')) {
        if (this.eatKw('unset')) defaultNull = false;
        else this.kw('null');
      }
      const ifNotExists = this.ifNotExists();
      const using = this.using(true);
      return { kind: 'insert', table, columns: [], values: [], json: { value, defaultNull }, ifNotExists, using, pos };
    }
    this.expect('(');
    const columns = [this.ident()];
    while (this.eat(',')) columns.push(this.ident());
    this.expect(')');
    this.kw('values');
    this.expect('(');
    const values = [this.term()];
    while (this.eat(',')) values.push(this.term());
    this.expect(')');
    const ifNotExists = this.ifNotExists();
    const using = this.using(true);
    return { kind: 'insert', table, columns, values, json: null, ifNotExists, using, pos };
  }

  private update(): Update {
    this.kw('update');
    const table = this.qualified();
    const using = this.using(true);
    this.kw('set');
    const set = [this.assignment()];
    while (this.eat(',')) set.push(this.assignment());
    this.kw('where');
    const where = this.whereClause();
    const { ifExists, conditions } = this.conditions();
    return { kind: 'update', table, using, set, where, ifExists, conditions };
  }

  private assignment(): CqlAssignment {
    const pos = this.peek().pos;
    const column = this.ident();
    if (this.at('[')) throw invalid('collection element updates are not supported');
    this.expect('=');
    if (this.atIdent() && (this.at('+', 1) || this.at('-', 1))) throw invalid(`Invalid operation (${column} = ${column} + ?) for non counter column ${column}`);
    if (this.atIdent() && this.peek(1).kind === 'integer' && this.peek(1).text.startsWith('-')) throw invalid(`Invalid operation (${column} = ${column} - ?) for non counter column ${column}`);
    return { column, value: this.term(), pos };
  }

  private conditions(): { ifExists: boolean; conditions: CqlCondition[] } {
    if (!this.atKw('if')) return { ifExists: false, conditions: [] };
    this.i++;
    if (this.eatKw('exists')) return { ifExists: true, conditions: [] };
    const conditions: CqlCondition[] = [];
    do {
      const pos = this.peek().pos;
      const column = this.ident();
      const t = this.peek();
      if (t.kind === 'punct' && ['=', '<', '<=', '>', '>=', '!='].includes(t.text)) {
        this.i++;
        conditions.push({ column, op: t.text as CqlCondition['op'], value: this.term(), pos });
      } else if (this.eatKw('in')) {
        conditions.push({ column, op: 'IN', value: this.inValues(), pos });
      } else throw this.noViable(t);
    } while (this.eatKw('and'));
    return { ifExists: false, conditions };
  }

  private delete(): Delete {
    this.kw('delete');
    const columns: string[] = [];
    if (!this.atKw('from')) {
      columns.push(this.ident());
      if (this.at('[') || this.at('.')) throw invalid('collection element and field deletions are not supported');
      while (this.eat(',')) columns.push(this.ident());
    }
    this.kw('from');
    const table = this.qualified();
    const using = this.using(false);
    this.kw('where');
    const where = this.whereClause();
    const { ifExists, conditions } = this.conditions();
    return { kind: 'delete', table, columns, using, where, ifExists, conditions };
  }

  private batch(): Batch {
    this.kw('begin');
    let type: Batch['type'] = 'logged';
    if (this.eatKw('unlogged')) type = 'unlogged';
    else if (this.eatKw('counter')) type = 'counter';
    else this.eatKw('logged');
    this.kw('batch');
    const using = this.using(false);
    const statements: BatchStatement[] = [];
    while (!this.atKw('apply')) {
      const t = this.peek();
      if (this.isKw(t, 'insert')) statements.push(this.insert());
      else if (this.isKw(t, 'update')) statements.push(this.update());
      else if (this.isKw(t, 'delete')) statements.push(this.delete());
      else if (t.kind === 'eof') throw this.mismatch('K_APPLY');
      else throw syntaxError(t.pos, `no viable alternative at input '${this.shown(t)}' (only INSERT, UPDATE and DELETE statements are allowed in a BATCH)`);
      this.eat(';');
    }
    this.kw('apply');
    this.kw('batch');
    return { kind: 'batch', type, using, statements };
  }

  private create(): CqlStatement {
    this.kw('create');
    if (this.eatKw('table') || this.eatKw('columnfamily')) return this.createTable();
    if (this.eatKw('keyspace') || this.eatKw('schema')) {
      const ifNotExists = this.ifNotExists();
      const keyspace = this.ident();
      if (this.eatKw('with')) this.properties(new Map(), null);
      return { kind: 'create-keyspace', keyspace, ifNotExists };
    }
    const custom = this.eatKw('custom');
    if (this.eatKw('index')) return this.createIndex(custom);
    throw this.noViable();
  }

  private typeName(): CqlTypeName {
    const t = this.peek();
    if (t.kind !== 'word' && t.kind !== 'quoted') throw this.noViable(t);
    this.i++;
    const name = t.lower;
    const params: CqlTypeName[] = [];
    if (this.eat('<')) {
      this.nest(t);
      do {
        if (this.peek().kind === 'integer') {
          const n = this.next();
          params.push({ name: n.text, params: [], pos: n.pos });
        } else params.push(this.typeName());
      } while (this.eat(','));
      this.expect('>');
      this.depth--;
    }
    return { name, params, pos: t.pos };
  }

  private createTable(): CreateTable {
    const ifNotExists = this.ifNotExists();
    const table = this.qualified();
    this.expect('(');
    const columns: CqlColumnDecl[] = [];
    let partitionKey: string[] = [];
    const clustering: string[] = [];
    let primaryKeyDecls = 0;
    do {
      if (this.at(')')) break; // a trailing comma, as Cassandra allows
      if (this.atKw('primary')) {
        this.i++;
        this.kw('key');
        primaryKeyDecls++;
        this.expect('(');
        if (this.eat('(')) {
          partitionKey = [this.ident()];
          while (this.eat(',')) partitionKey.push(this.ident());
          this.expect(')');
        } else partitionKey = [this.ident()];
        while (this.eat(',')) clustering.push(this.ident());
        this.expect(')');
        continue;
      }
      const pos = this.peek().pos;
      const name = this.ident();
      const type = this.typeName();
      const isStatic = this.eatKw('static');
      if (this.atKw('primary')) {
        this.i++;
        this.kw('key');
        primaryKeyDecls++;
        partitionKey = [name];
      }
      columns.push({ name, type, isStatic, pos });
    } while (this.eat(','));
    this.expect(')');
    const options = new Map<string, CqlOptionValue>();
    const clusteringOrder: { column: string; desc: boolean }[] = [];
    let compactStorage = false;
    if (this.eatKw('with')) compactStorage = this.properties(options, clusteringOrder);
    return { kind: 'create-table', table, ifNotExists, columns, partitionKey, clustering, clusteringOrder, options, compactStorage, primaryKeyDecls };
  }

  /** WITH property AND property …; returns whether COMPACT STORAGE was among them. */
  private properties(options: Map<string, CqlOptionValue>, clusteringOrder: { column: string; desc: boolean }[] | null): boolean {
    let compact = false;
    do {
      if (clusteringOrder !== null && this.atKw('compact')) {
        this.i++;
        this.kw('storage');
        compact = true;
      } else if (clusteringOrder !== null && this.atKw('clustering')) {
        this.i++;
        this.kw('order');
        this.kw('by');
        this.expect('(');
        do {
          const column = this.ident();
          let desc = false;
          if (this.eatKw('desc')) desc = true;
          else this.eatKw('asc');
          clusteringOrder.push({ column, desc });
        } while (this.eat(','));
        this.expect(')');
      } else {
        const name = this.ident();
        this.expect('=');
        if (options.has(name)) throw syntaxError(this.peek().pos, `Multiple definition for property ${name}`);
        options.set(name, this.propertyValue());
      }
    } while (this.eatKw('and'));
    return compact;
  }

  private propertyValue(): CqlOptionValue {
    if (this.eat('{')) {
      const map: Record<string, string | number | boolean> = {};
      if (!this.at('}')) {
        do {
          const k = this.constant();
          this.expect(':');
          map[String(k)] = this.constant();
        } while (this.eat(','));
      }
      this.expect('}');
      return map;
    }
    return this.constant();
  }

  private constant(): string | number | boolean {
    const t = this.next();
    switch (t.kind) {
      case 'string':
      case 'uuid':
        return t.text;
      case 'integer':
      case 'float':
        return Number(t.text);
      case 'word': {
        const w = t.lower;
        if (w === 'true' || w === 'false') return w === 'true';
        // Cassandra accepts unreserved words as property values (e.g. caching = {'keys': ALL}).
        return t.text;
      }
      default:
        this.i--;
        throw this.noViable(t);
    }
  }

  private createIndex(custom: boolean): CreateIndex {
    const ifNotExists = this.ifNotExists();
    let name: string | null = null;
    if (!this.atKw('on')) name = this.ident();
    this.kw('on');
    const table = this.qualified();
    this.expect('(');
    if ((this.atKw('keys') || this.atKw('values') || this.atKw('entries') || this.atKw('full')) && this.at('(', 1)) {
      throw invalid('indexes on collection keys, values or entries are not supported');
    }
    const column = this.ident();
    this.expect(')');
    if (this.eatKw('using')) {
      if (this.peek().kind !== 'string') throw this.mismatch('STRING_LITERAL');
      this.i++;
      if (this.eatKw('with')) {
        this.kw('options');
        this.expect('=');
        this.propertyValue();
      }
    }
    return { kind: 'create-index', name, ifNotExists, table, column, custom };
  }

  private drop(): CqlStatement {
    this.kw('drop');
    if (this.eatKw('table') || this.eatKw('columnfamily')) {
      const ifExists = this.ifExists();
      return { kind: 'drop-table', table: this.qualified(), ifExists };
    }
    if (this.eatKw('index')) {
      const ifExists = this.ifExists();
      return { kind: 'drop-index', index: this.qualified(), ifExists };
    }
    if (this.eatKw('keyspace') || this.eatKw('schema')) {
      const ifExists = this.ifExists();
      return { kind: 'drop-keyspace', keyspace: this.ident(), ifExists };
    }
    throw this.noViable();
  }

  private alter(): AlterTableAdd {
    this.kw('alter');
    if (!this.eatKw('table') && !this.eatKw('columnfamily')) throw this.mismatch('K_TABLE');
    const table = this.qualified();
    if (!this.atKw('add')) throw invalid('ALTER TABLE supports only ADD column (columns are never dropped, renamed or retyped)');
    this.i++;
    this.ifNotExists();
    const columns: CqlColumnDecl[] = [];
    const one = (): void => {
      const pos = this.peek().pos;
      const name = this.ident();
      const type = this.typeName();
      const isStatic = this.eatKw('static');
      columns.push({ name, type, isStatic, pos });
    };
    if (this.eat('(')) {
      one();
      while (this.eat(',')) one();
      this.expect(')');
    } else {
      one();
      while (this.eat(',')) one();
    }
    return { kind: 'alter-table-add', table, columns };
  }
}

export type { CqlPos };
