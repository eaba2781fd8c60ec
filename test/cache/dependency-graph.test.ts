// DependencyGraph on real files in a temp dir: round trips through reopen,
// cycle-safe walks, group commit, refusals, a torn tail cut off and a damaged
// middle refused, compaction (also with writes racing it), write and fsync
// failures, and acknowledged edges surviving kill -9 of a writer process.
import { appendFileSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { DependencyError, DependencyGraph, type GraphLogger } from '../../src/cache/dependency-graph.js';
import { encodeHeader, encodeRecords, LOG_FILE } from '../../src/cache/dependency-log.js';
import { ensureBuilt, runAndKill, wholeLines } from '../helpers/child-process.js';
import { tempDirMaker } from './temp-dirs.js';

const DIST_GRAPH = 'dist/src/cache/dependency-graph.js';
const GRAPH_SOURCES = ['dependency-graph', 'dependency-log', 'edge-set']
  .map((m) => `src/cache/${m}.ts`)
  .concat(['src/durable/group-log.ts', 'shared/durable-file.ts', 'shared/limits.ts', 'shared/errors.ts']);

const tempDir = tempDirMaker('mantis-deps-');

function recordingLog(): GraphLogger & { warnings: string[] } {
  const warnings: string[] = [];
  return { warnings, info: () => undefined, warn: (_obj, msg) => warnings.push(msg) };
}

async function rejection(promise: Promise<unknown>): Promise<DependencyError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DependencyError);
  return error as DependencyError;
}

/** Every edge as "parent>child", sorted: the whole graph, for comparisons. */
function edgesOf(graph: DependencyGraph, keys: Iterable<string>): string[] {
  const out: string[] = [];
  for (const parent of keys) for (const child of graph.children(parent)) out.push(`${parent}>${child}`);
  return out.sort();
}

describe('DependencyGraph', () => {
  it('adds and removes edges durably and reads them back after reopening', async () => {
    const dir = tempDir();
    const graph = await DependencyGraph.open(dir);
    expect(await graph.add('a', 'b')).toBe(true);
    expect(await graph.add('a', 'c')).toBe(true);
    expect(await graph.add('b', 'c')).toBe(true);
    expect(await graph.add('a', 'b')).toBe(false);
    expect(await graph.remove('a', 'c')).toBe(true);
    expect(await graph.remove('a', 'c')).toBe(false);
    expect(await graph.add('ключ', '键')).toBe(true);
    await graph.close();

    const again = await DependencyGraph.open(dir);
    expect(again.edgeCount).toBe(3);
    expect(again.children('a')).toEqual(['b']);
    expect(again.parents('c')).toEqual(['b']);
    expect(again.has('ключ', '键')).toBe(true);
    expect(again.hasChildren('b')).toBe(true);
    expect(again.hasChildren('c')).toBe(false);
    expect(again.children('nobody')).toEqual([]);
    expect(again.stats()).toMatchObject({ edges: 3, records: 5, deadRecords: 2 });
    await again.close();
  });

  it('drops a compaction file left by a crash, and numbers groups across the u32 wrap', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, LOG_FILE), encodeHeader(0xffff_fffe));
    writeFileSync(join(dir, `${LOG_FILE}.tmp`), 'half a compaction');
    const graph = await DependencyGraph.open(dir);
    expect(existsSync(join(dir, `${LOG_FILE}.tmp`))).toBe(false);
    for (const child of ['x', 'y', 'z']) await graph.add('a', child); // groups 0xfffffffe, 0xffffffff, 0
    await graph.close();
    const again = await DependencyGraph.open(dir);
    expect(again.children('a')).toEqual(['x', 'y', 'z']);
    await again.close();
  });

  it('refuses self edges and keys that are not keys, with INVALID_PARAMETER', async () => {
    const graph = await DependencyGraph.open(tempDir());
    for (const [parent, child] of [
      ['a', 'a'],
      ['', 'b'],
      ['a', '\ud800'],
      ['a', 'x'.repeat(1025)],
    ]) {
      const error = await rejection(graph.add(parent, child));
      expect(error.code).toBe('INVALID_PARAMETER');
    }
    expect((await rejection(graph.remove('a', 'a'))).message).toContain('cannot depend on itself');
    expect(await graph.add('a', 'x'.repeat(1024))).toBe(true);
    await graph.close();
    expect((await rejection(graph.add('a', 'b'))).code).toBe('SHUTTING_DOWN');
  });

  it('walks descendants breadth first, each once, through cycles and diamonds, without the roots', async () => {
    const graph = await DependencyGraph.open(tempDir());
    // a → b → c → a (cycle), c → d; diamond: d → e, d → f, e → g, f → g.
    for (const [p, c] of ['ab', 'bc', 'ca', 'cd', 'de', 'df', 'eg', 'fg']) await graph.add(p, c);
    expect(graph.descendants(['a'])).toEqual(['b', 'c', 'd', 'e', 'f', 'g']);
    expect(graph.descendants(['c'])).toEqual(['a', 'd', 'b', 'e', 'f', 'g']);
    expect(graph.descendants(['d'])).toEqual(['e', 'f', 'g']);
    expect(graph.descendants(['a', 'd', 'a'])).toEqual(['b', 'e', 'f', 'c', 'g']);
    expect(graph.descendants(['g', 'unknown'])).toEqual([]);
    expect(graph.descendants(['a'], 2)).toEqual(['b', 'c']);
    await graph.close();
  });

  it('walks in chunks with descendantsAsync, letting the event loop run, to the same result', async () => {
    const graph = await DependencyGraph.open(tempDir());
    for (const [p, c] of ['ab', 'bc', 'ca', 'cd', 'de', 'df', 'eg', 'fg']) await graph.add(p, c);
    expect(await graph.descendantsAsync(['c'])).toEqual(graph.descendants(['c']));
    // Three levels under r: 30 + 900 + 27,000 keys.
    await Promise.all(Array.from({ length: 30 }, (_, i) => graph.add('r', `r${i}`)));
    await Promise.all(Array.from({ length: 900 }, (_, i) => graph.add(`r${i % 30}`, `s${i}`)));
    await Promise.all(Array.from({ length: 27_000 }, (_, i) => graph.add(`s${i % 900}`, `t${i}`)));
    let walking = true;
    let turns = 0;
    const spin = (): void => {
      if (!walking) return;
      turns++;
      setImmediate(spin);
    };
    setImmediate(spin);
    const keys = await graph.descendantsAsync(['r']);
    walking = false;
    expect(keys).toEqual(graph.descendants(['r']));
    expect(keys).toHaveLength(27_930);
    expect(turns).toBeGreaterThanOrEqual(2);
    await expect(graph.descendantsAsync(['r'], -1)).rejects.toMatchObject({ code: 'INVALID_PARAMETER' });
    await graph.close();
  });

  it('commits the calls of one turn with one write and one fdatasync, in call order', async () => {
    const dir = tempDir();
    const graph = await DependencyGraph.open(dir);
    const created = await Promise.all(Array.from({ length: 100 }, (_, i) => graph.add(`p${i % 10}`, `c${i}`)));
    expect(created.every(Boolean)).toBe(true);
    expect(graph.stats()).toMatchObject({ edges: 100, writes: 1, fsyncs: 1 });

    // Later calls in a turn see what earlier ones will have done.
    const mixed = await Promise.all([graph.add('x', 'y'), graph.add('x', 'y'), graph.remove('x', 'y'), graph.remove('x', 'y'), graph.add('x', 'y')]);
    expect(mixed).toEqual([true, false, true, false, true]);
    expect(graph.stats()).toMatchObject({ writes: 2, fsyncs: 2, records: 103 });
    // A no-op on an edge nothing is pending on needs no write.
    expect(await graph.add('x', 'y')).toBe(false);
    expect(graph.stats().fsyncs).toBe(2);
    await graph.close();

    const again = await DependencyGraph.open(dir);
    expect(again.has('x', 'y')).toBe(true);
    expect(again.edgeCount).toBe(101);
    await again.close();
  });

  it('refuses new edges beyond maxEdges with DEPENDENCY_LIMIT, and only those', async () => {
    const graph = await DependencyGraph.open(tempDir(), { maxEdges: 3 });
    const results = await Promise.allSettled(Array.from({ length: 5 }, (_, i) => graph.add('p', `c${i}`)));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'rejected', 'rejected']);
    expect(((results[3] as PromiseRejectedResult).reason as DependencyError).code).toBe('DEPENDENCY_LIMIT');
    expect(await graph.add('p', 'c0')).toBe(false);
    // A removal in the same turn frees room for an add after it.
    expect(await Promise.all([graph.remove('p', 'c0'), graph.add('p', 'c9')])).toEqual([true, true]);
    expect(graph.children('p').sort()).toEqual(['c1', 'c2', 'c9']);
    await graph.close();
    await expect(DependencyGraph.open(tempDir(), { maxEdges: 0 })).rejects.toMatchObject({ code: 'INVALID_PARAMETER' });
  });

  describe('damage at open', () => {
    async function logWithGroups(dir: string): Promise<{ path: string; sizes: number[] }> {
      const graph = await DependencyGraph.open(dir);
      const path = join(dir, LOG_FILE);
      const sizes = [statSync(path).size];
      for (let g = 0; g < 3; g++) {
        await Promise.all([graph.add(`p${g}`, 'x'), graph.add(`p${g}`, 'y')]);
        sizes.push(statSync(path).size);
      }
      await graph.close();
      return { path, sizes };
    }

    it('cuts a torn tail (half a record, a group with no last record, zeros) and keeps every whole group', async () => {
      const tails = [
        encodeRecords([{ op: 'add', parent: 'torn', child: 'tail' }], 4).subarray(0, 9),
        encodeRecords([{ op: 'add', parent: 'torn', child: 'tail' }], 4, false),
        Buffer.alloc(100),
      ];
      for (const tail of tails) {
        const dir = tempDir();
        const { path, sizes } = await logWithGroups(dir);
        appendFileSync(path, tail);
        const log = recordingLog();
        const graph = await DependencyGraph.open(dir, { log });
        expect(graph.edgeCount).toBe(6);
        expect(graph.has('torn', 'tail')).toBe(false);
        expect(statSync(path).size).toBe(sizes[3]);
        expect(log.warnings.join()).toContain('torn tail');
        // Writes go on after the cut, and read back.
        expect(await graph.add('after', 'cut')).toBe(true);
        await graph.close();
        const again = await DependencyGraph.open(dir);
        expect(again.edgeCount).toBe(7);
        await again.close();
      }
    });

    it('treats damage in the last group as a torn tail: that group was never acknowledged', async () => {
      const dir = tempDir();
      const { path, sizes } = await logWithGroups(dir);
      const bytes = readFileSync(path);
      bytes[sizes[2] + 20] ^= 0xff;
      writeFileSync(path, bytes);
      const graph = await DependencyGraph.open(dir);
      expect(edgesOf(graph, ['p0', 'p1', 'p2'])).toEqual(['p0>x', 'p0>y', 'p1>x', 'p1>y']);
      expect(statSync(path).size).toBe(sizes[2]);
      await graph.close();
    });

    it('refuses a damaged record that acknowledged groups follow (DATA_CORRUPT)', async () => {
      const dir = tempDir();
      const { path, sizes } = await logWithGroups(dir);
      const bytes = readFileSync(path);
      bytes[sizes[1] - 3] ^= 0x01; // inside the first group
      writeFileSync(path, bytes);
      const error = await rejection(DependencyGraph.open(dir));
      expect(error.code).toBe('DATA_CORRUPT');
      expect(error.message).toContain('data directory is damaged');
      expect(statSync(path).size).toBe(bytes.length);
    });

    it('refuses a damaged header, and starts again from a file cut while it was created', async () => {
      const dir = tempDir();
      const { path } = await logWithGroups(dir);
      const bytes = readFileSync(path);
      bytes[2] ^= 0xff;
      writeFileSync(path, bytes);
      expect((await rejection(DependencyGraph.open(dir))).code).toBe('DATA_CORRUPT');

      writeFileSync(path, bytes.subarray(0, 7));
      const graph = await DependencyGraph.open(dir);
      expect(graph.edgeCount).toBe(0);
      expect(await graph.add('a', 'b')).toBe(true);
      await graph.close();
    });
  });

  describe('compaction', () => {
    it('rewrites the log to exactly the live edges once dead records outnumber them', async () => {
      const dir = tempDir();
      const graph = await DependencyGraph.open(dir);
      await Promise.all(Array.from({ length: 1500 }, (_, i) => graph.add(`p${i % 7}`, `c${i}`)));
      const before = statSync(join(dir, LOG_FILE)).size;
      await Promise.all(Array.from({ length: 1400 }, (_, i) => graph.remove(`p${i % 7}`, `c${i}`)));
      await graph.idle();
      expect(graph.stats()).toMatchObject({ edges: 100, records: 100, deadRecords: 0, compactions: 1 });
      expect(statSync(join(dir, LOG_FILE)).size).toBeLessThan(before / 10);
      expect(existsSync(join(dir, `${LOG_FILE}.tmp`))).toBe(false);
      const live = edgesOf(graph, Array.from({ length: 7 }, (_, i) => `p${i}`));
      expect(await graph.add('after', 'compaction')).toBe(true);
      await graph.close();

      const again = await DependencyGraph.open(dir);
      expect(edgesOf(again, Array.from({ length: 7 }, (_, i) => `p${i}`))).toEqual(live);
      expect(again.has('after', 'compaction')).toBe(true);
      expect(again.stats().records).toBe(101);
      await again.close();
    });

    it('keeps the old log in use when a compaction fails, and tries again only after more churn', async () => {
      const dir = tempDir();
      const log = recordingLog();
      const graph = await DependencyGraph.open(dir, { log });
      mkdirSync(join(dir, `${LOG_FILE}.tmp`)); // the compaction cannot create its file
      await Promise.all(Array.from({ length: 1200 }, (_, i) => graph.add('p', `c${i}`)));
      await Promise.all(Array.from({ length: 1150 }, (_, i) => graph.remove('p', `c${i}`)));
      await graph.idle();
      expect(log.warnings).toEqual(['dependency log compaction failed; the old log stays in use']);
      expect(graph.stats()).toMatchObject({ compactions: 0, records: 2350, edges: 50 });
      // Back off: the next attempt waits until the dead records have doubled.
      await graph.add('q', 'r');
      await graph.idle();
      expect(log.warnings).toHaveLength(1);
      rmSync(join(dir, `${LOG_FILE}.tmp`), { recursive: true });
      await graph.close();
      const again = await DependencyGraph.open(dir);
      expect(again.children('p')).toEqual(Array.from({ length: 50 }, (_, i) => `c${1150 + i}`));
      await again.close();
    });

    it('loses no write that races the compaction', async () => {
      const dir = tempDir();
      const log = recordingLog();
      const graph = await DependencyGraph.open(dir, { log });
      const model = new Set<string>();
      const apply = async (op: 'add' | 'remove', p: string, c: string): Promise<void> => {
        await graph[op](p, c);
        if (op === 'add') model.add(`${p}>${c}`);
        else model.delete(`${p}>${c}`);
      };
      await Promise.all(Array.from({ length: 12_000 }, (_, i) => apply('add', `p${i % 50}`, `c${i}`)));
      await Promise.all(Array.from({ length: 7_000 }, (_, i) => apply('remove', `p${i % 50}`, `c${i}`)));
      // The compaction has started; keep writing through it, one turn at a time.
      for (let round = 0; round < 40; round++) {
        await Promise.all(
          Array.from({ length: 25 }, (_, j) => {
            const i = (round * 997 + j * 131) % 12_000;
            return apply(j % 3 === 0 ? 'remove' : 'add', `p${i % 50}`, `c${i}`);
          }),
        );
      }
      await graph.idle();
      expect(log.warnings).toEqual([]);
      // The first one starts while removals still pour in, so a second one follows.
      expect(graph.stats().compactions).toBeGreaterThanOrEqual(2);
      const keys = Array.from({ length: 50 }, (_, i) => `p${i}`);
      expect(edgesOf(graph, keys)).toEqual([...model].sort());
      await graph.close();

      const again = await DependencyGraph.open(dir);
      expect(edgesOf(again, keys)).toEqual([...model].sort());
      await again.close();
    });
  });

  describe('storage failures', () => {
    afterEach(() => {
      vi.restoreAllMocks();
    });

    /** FileHandle is not exported: take its prototype from an open handle. */
    async function fileHandlePrototype(): Promise<{ write: unknown; datasync: unknown }> {
      const dir = tempDir();
      const handle = await open(join(dir, 'probe'), 'w');
      await handle.close();
      return Object.getPrototypeOf(handle) as { write: unknown; datasync: unknown };
    }

    const fsError = (code: string): NodeJS.ErrnoException => Object.assign(new Error(`${code}: injected`), { code });

    it('a failed write rejects its group, leaves the graph and the file as they were, and writes go on', async () => {
      const dir = tempDir();
      const graph = await DependencyGraph.open(dir);
      await graph.add('a', 'b');
      const size = statSync(join(dir, LOG_FILE)).size;
      const proto = await fileHandlePrototype();
      vi.spyOn(proto as { write: () => Promise<unknown> }, 'write').mockRejectedValueOnce(fsError('ENOSPC'));
      const existing = graph.add('a', 'b'); // nothing pending on it: answered from memory, no write
      const results = await Promise.allSettled([graph.add('a', 'c'), graph.add('a', 'd')]);
      for (const r of results) expect(((r as PromiseRejectedResult).reason as DependencyError).code).toBe('STORAGE_FULL');
      expect(await existing).toBe(false);
      expect(graph.children('a')).toEqual(['b']);
      expect(statSync(join(dir, LOG_FILE)).size).toBe(size);
      expect(await graph.add('a', 'c')).toBe(true);
      await graph.close();
      const again = await DependencyGraph.open(dir);
      expect(again.children('a')).toEqual(['b', 'c']);
      await again.close();
    });

    it('a failed fdatasync rejects its group and every later write (STORAGE_IO), reads go on', async () => {
      const graph = await DependencyGraph.open(tempDir());
      await graph.add('a', 'b');
      const proto = await fileHandlePrototype();
      vi.spyOn(proto as { datasync: () => Promise<void> }, 'datasync').mockRejectedValueOnce(fsError('EIO'));
      const results = await Promise.allSettled([graph.add('a', 'c'), graph.remove('a', 'b')]);
      for (const r of results) expect(((r as PromiseRejectedResult).reason as DependencyError).code).toBe('STORAGE_IO');
      expect(graph.children('a')).toEqual(['b']);
      expect(graph.stats().failed).toBe(true);
      const later = await rejection(graph.add('x', 'y'));
      expect(later.code).toBe('STORAGE_IO');
      expect(later.message).toContain('refused until the server restarts');
      expect(graph.descendants(['a'])).toEqual(['b']);
      await graph.close();
    });
  });

  describe('kill -9 of a writer process', () => {
    beforeAll(() => ensureBuilt(DIST_GRAPH, GRAPH_SOURCES));

    /** Runs the writer until it has acknowledged `acks` calls, then SIGKILLs it; returns its output. */
    const runWriter = (dir: string, prefix: string, acks: number): Promise<string> => runAndKill('test/cache/fixtures/dependency-writer.mjs', [dir, prefix], acks, 'writer');

    it('keeps every acknowledged add and removal across three kills', async () => {
      const dir = tempDir();
      const log = recordingLog();
      for (const round of ['r0:', 'r1:', 'r2:']) {
        const lines = wholeLines(await runWriter(dir, round, 600));
        const added = lines.filter((l) => l.startsWith('add ')).map((l) => Number(l.slice(4)));
        const removed = new Set(lines.filter((l) => l.startsWith('del ')).map((l) => Number(l.slice(4))));
        expect(added.length).toBeGreaterThan(100);
        const graph = await DependencyGraph.open(dir, { log });
        const missing = added.filter((i) => i % 16 !== 0 && !graph.has(`${round}p${i}`, `${round}c${i}`));
        const resurrected = [...removed].filter((i) => graph.has(`${round}p${i}`, `${round}c${i}`));
        expect(missing).toEqual([]);
        expect(resurrected).toEqual([]);
        await graph.close();
      }
    });
  });
});
