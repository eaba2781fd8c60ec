// Table operations inside a transaction (the Mantis-Txn header on the row
// routes). Each operation is planned on the shards at the transaction's
// snapshot, with the transaction's own writes of the table on that shard sent
// along as an overlay (the `txn` table command, workers/tables/table-snapshot.ts):
// a shard answers the rows read, or the key writes the operation makes —
// delta rows, delete marks, index entries — without applying them. Once every
// shard has planned its part, the writes are buffered in the transaction (all
// or none), so an operation that fails leaves the transaction as it was. The
// commit is the transaction manager's (one shard, or two-phase commit with the
// transaction's KV and document writes): first committer wins on every key,
// and the segment entries of the segments whose rows the transaction marks
// deleted are validated at every isolation level, so a compaction that
// rewrote one since the snapshot aborts the commit (TXN_CONFLICT) rather than
// lose the delete or leave a duplicate; so does a change of the table's schema
// (its catalog entry on the shard), since the planned writes carry the index
// entries of the schema they were planned with.
//
// Unique indexes: an insert reads the global entry of each value it takes at
// the snapshot (validated at commit) and refuses DUPLICATE_KEY when another
// live row holds it (or a plain insert of this router is claiming it), else
// writes the entry with the row; two writers of one value meet on that entry's
// key, so the later commit loses (answered 409 DUPLICATE_KEY). An update of a
// unique column is refused, as outside transactions.
// Refused inside a transaction: writes at read_committed (its commit
// validates nothing, so a segment rewritten meanwhile would go unnoticed). At serializable and
// repeatable_read, every table operation also has the table's delta rows,
// delete marks and segment entries validated as ranges at commit: a change
// of the table by anyone since the snapshot (the mover's included) aborts it.

import { isErrorCode, MantisError } from '../../shared/errors.js';
import { decodeTableAnswer, encodeTableCommand, type TableAnswer, type TxnTableAction, type TxnTableAnswer } from '../../shared/tables/table-protocol.js';
import { segIdFromKey, tableKeyTag } from '../../shared/tables/table-keys.js';
import type { Cell, TableInfo } from '../../shared/tables/table-types.js';
import type { TxnWriteOp } from '../../shared/txn/txn-wire.js';
import type { ShardClient, ShardPool } from '../router/index.js';
import type { DocTxnManager, KeyName } from '../docs/doc-txn-manager.js';
import type { TxnOperation } from '../txn/txn-manager.js';
import { keyText } from './table-rows.js';

const TABLE_CONTENT_TYPE = 'application/x-mantis-table';

/** The table key prefixes (tag + table id) a transaction's overlay and range validation cover. */
function tablePrefixOf(tag: string, tableId: number): Uint8Array {
  const key = new Uint8Array(6);
  key[0] = 0xff;
  key[1] = tag.charCodeAt(0);
  new DataView(key.buffer).setUint32(2, tableId);
  return key;
}

/** What a `more` step of an operation may do: read and validate keys, plan further shard reads. */
export type PlanContext = {
  readonly op: TxnOperation;
  readonly plan: (shard: ShardClient, action: TxnTableAction) => Promise<TxnTableAnswer>;
  readonly answers: readonly TxnTableAnswer[];
};

export class TableTxn {
  constructor(
    private readonly pool: ShardPool,
    private readonly txns: DocTxnManager,
  ) {}

  /**
   * Runs one operation of transaction `txnId` on table `info`: `action(shard)` on each of `shards`
   * at the snapshot; their answers' results, in the order of `shards`. `write`: the operation may
   * write (refused at read_committed). `more`, when given, runs after every shard planned its part
   * and before anything is buffered: further reads and checks of the same operation (unique
   * values), answering further writes to buffer with the rest.
   */
  async run(
    txnId: string,
    info: TableInfo,
    shards: readonly ShardClient[],
    action: (shard: ShardClient) => TxnTableAction,
    write: boolean,
    deadlineMs: number,
    more?: (ctx: PlanContext) => Promise<TxnWriteOp[]>,
  ): Promise<TableAnswer[]> {
    try {
      return await this.txns.operate(txnId, async (op) => {
        if (write && op.isolation === 'read_committed') {
          throw new MantisError('INVALID_PARAMETER', 'table rows are not written inside a read_committed transaction; begin it at snapshot, repeatable_read or serializable');
        }
        const own = [...op.buffered(tablePrefixOf('R', info.id)), ...op.buffered(tablePrefixOf('V', info.id))];
        const plan = async (shard: ShardClient, a: TxnTableAction): Promise<TxnTableAnswer> => {
          const overlay = own
            .filter((w) => this.pool.shardFor(w.key) === shard)
            .map((w) => (w.kind === 'put' ? { key: w.key, value: w.value, expiresAtMs: w.expiresAtMs } : { key: w.key, value: null, expiresAtMs: 0 }));
          const body = encodeTableCommand({ op: 'txn', table: info.name, tableId: info.id, snapshotTs: op.snapshotTs, overlay, action: a });
          const response = await op.call(shard, () => ({ kind: 'tbl', write: false, body }), deadlineMs);
          if (response.kind === 'error') throw new MantisError(response.code, response.message);
          if (response.kind !== 'tbl-result') throw new Error(`assertion failed: unexpected shard response ${response.kind} to a table command`);
          const answer = decodeTableAnswer(response.body);
          if (!answer.ok) throw new MantisError(isErrorCode(answer.code) ? answer.code : 'INTERNAL', answer.message, answer.details);
          if (answer.op !== 'txn') throw new Error(`assertion failed: shard answered ${answer.op} to a txn table command`);
          return answer;
        };
        const answers = await Promise.all(shards.map(async (shard) => ({ shard, answer: await plan(shard, action(shard)) })));
        // Every shard planned its part: buffer the writes (all or none), name their keys, and note
        // what the commit must validate.
        const writes: TxnWriteOp[] = [];
        for (const { answer } of answers) {
          for (const w of answer.writes) {
            writes.push(w.value === null ? { kind: 'delete', key: w.key } : { kind: 'put', key: w.key, contentType: TABLE_CONTENT_TYPE, expiresAtMs: w.expiresAtMs, value: w.value });
          }
        }
        if (more !== undefined) for (const w of await more({ op, plan, answers: answers.map((a) => a.answer) })) writes.push(w);
        op.bufferAll(writes);
        for (const { shard, answer } of answers) {
          this.nameWrites(txnId, info, answer);
          for (const key of answer.validate) {
            op.validate(shard, key);
            const text =
              tableKeyTag(key) === 'S'
                ? `segment ${segIdFromKey(key)} of table "${info.name}" on shard ${shard.id} (rewritten by a compaction since this transaction's snapshot)`
                : `the schema of table "${info.name}" (changed since this transaction's snapshot)`;
            this.txns.nameKey(txnId, key, { text, duplicate: null });
          }
        }
        if (op.isolation === 'serializable' || op.isolation === 'repeatable_read') {
          for (const tag of ['R', 'V', 'S']) op.validatePrefix(tablePrefixOf(tag, info.id));
        }
        return answers.map((a) => a.answer.result);
      });
    } catch (error) {
      throw this.txns.readable(txnId, error);
    }
  }

  /** Names a key of the transaction for conflict messages (see DocTxnManager.nameKey). */
  nameKey(txnId: string, key: Uint8Array, name: KeyName): void {
    this.txns.nameKey(txnId, key, name);
  }

  private nameWrites(txnId: string, info: TableInfo, answer: TxnTableAnswer): void {
    for (const w of answer.writes) {
      const cells: Cell[] | undefined = answer.keyCells[w.row];
      const row = cells === undefined ? 'a row' : `row ${keyText(cells)}`;
      const tag = tableKeyTag(w.key);
      const what = tag === 'K' ? `an index entry of ${row}` : tag === 'V' ? `the delete mark of ${row}` : row;
      this.txns.nameKey(txnId, w.key, { text: `${what} of table "${info.name}"`, duplicate: null });
    }
  }
}
