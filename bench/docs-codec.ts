// The stored document encoding, measured: our doc-codec against msgpackr (with
// extensions for bson's types) and bson's serialize/deserialize, on 1 KB
// documents. Prints encode/decode ns per document and the encoded size; the
// figures chosen from are copied into shared/docs/doc-codec.ts's header.
//
//   npm run build --silent && node dist/bench/docs-codec.js
//
// Environment: DOCS_CODEC_DOCS (20000), DOCS_CODEC_REPEATS (9; best and median are
// printed). Figures are machine-dependent; compare runs on the same box only.

import { Binary, Decimal128, ObjectId, deserialize, serialize } from 'bson';
import { Packr, addExtension } from 'msgpackr';
import { decodeDoc, decodeDocFields, encodeDoc } from '../shared/docs/doc-codec.js';
import type { Doc } from '../shared/docs/doc-types.js';
import { envInt } from './lib/env.js';

const DOCS = envInt('DOCS_CODEC_DOCS', 20_000, 1);
const REPEATS = envInt('DOCS_CODEC_REPEATS', 9, 1);

const LOREM =
  'Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et ' +
  'dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris nisi ut aliquip ' +
  'ex ea commodo consequat. Duis aute irure dolor in reprehenderit in voluptate velit esse cillum dolore eu ' +
  'fugiat nulla pariatur. Excepteur sint occaecat cupidatat non proident, sunt in culpa qui officia.';

/** About 1 KB as relaxed EJSON: nested objects, arrays, and every common BSON type. */
export function makeBenchDoc(i: number): Doc {
  return {
    _id: new ObjectId(),
    user: {
      name: `user${i}`,
      email: `user${i}@example.com`,
      age: 20 + (i % 50),
      address: { city: `City${i % 100}`, zip: String(10000 + i), street: '123 Some Street Name' },
    },
    tags: ['alpha', 'beta', 'gamma', `t${i % 10}`],
    created: new Date(1_700_000_000_000 + i * 1000),
    score: i * 1.5 + 0.25,
    count: i,
    active: i % 2 === 0,
    big: BigInt(i) * 1_000_000_000_000n,
    items: [
      { sku: `SKU-${i}`, qty: 2, price: 19.99 },
      { sku: `SKU-${i + 1}`, qty: 1, price: 5.5 },
      { sku: 'SKU-x', qty: 7, price: 1.25 },
    ],
    text: LOREM.slice(0, 360 + (i % 50)),
    meta: { source: 'import', version: 3, flags: [1, 2, 3], note: null, city: 'Zürich' },
  };
}

type Codec = { name: string; encode(doc: Doc): Uint8Array; decode(bytes: Uint8Array): unknown };

function msgpackrCodec(): Codec {
  addExtension({ Class: ObjectId, type: 0x42, pack: (o: ObjectId) => o.id, unpack: (b: Uint8Array) => new ObjectId(b) });
  addExtension({ Class: Decimal128, type: 0x43, pack: (d: Decimal128) => d.bytes, unpack: (b: Uint8Array) => new Decimal128(b.slice()) });
  addExtension({
    Class: Binary,
    type: 0x44,
    pack: (b: Binary) => Buffer.concat([Buffer.of(b.sub_type), b.buffer.subarray(0, b.position)]),
    unpack: (b: Uint8Array) => new Binary(b.slice(1), b[0]),
  });
  const packr = new Packr({ useRecords: false, mapsAsObjects: true, int64AsType: 'bigint' });
  return { name: 'msgpackr+ext', encode: (d) => packr.pack(d), decode: (b) => packr.unpack(b) as unknown };
}

const CODECS: Codec[] = [
  { name: 'doc-codec', encode: encodeDoc, decode: decodeDoc },
  msgpackrCodec(),
  { name: 'bson', encode: (d) => serialize(d), decode: (b) => deserialize(b, { useBigInt64: true }) },
];

function timeNs(n: number, fn: (i: number) => void): number {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) fn(i);
  return Number(process.hrtime.bigint() - t0) / n;
}

type Figures = { enc: number[]; dec: number[]; fields: number[]; size: number };

/** One round of every codec in turn, so load from elsewhere falls on all of them alike. */
function round(docs: Doc[], bytes: Uint8Array[][], figures: Figures[], fields: ReadonlySet<string>): void {
  let sink = 0;
  CODECS.forEach((codec, c) => {
    const own = bytes[c];
    figures[c].enc.push(timeNs(docs.length, (i) => { own[i] = codec.encode(docs[i]); }));
    figures[c].dec.push(timeNs(docs.length, (i) => { sink += codec.decode(own[i]) === null ? 1 : 0; }));
  });
  figures[0].fields.push(timeNs(docs.length, (i) => { sink += decodeDocFields(bytes[0][i], fields).score === null ? 1 : 0; }));
  if (sink < 0) console.log(sink);
}

function best(xs: number[]): string {
  return Math.min(...xs).toFixed(0).padStart(6);
}

function middle(xs: number[]): string {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)].toFixed(0).padStart(6);
}

function main(): void {
  const docs = Array.from({ length: DOCS }, (_, i) => makeBenchDoc(i));
  const json = JSON.stringify(docs[0], (_k, v: unknown) => (typeof v === 'bigint' ? Number(v) : v));
  const bytes = CODECS.map((codec) => docs.map((d) => codec.encode(d)));
  const figures: Figures[] = CODECS.map((_c, i) => ({ enc: [], dec: [], fields: [], size: bytes[i].reduce((a, b) => a + b.length, 0) / DOCS }));
  const fields = new Set(['user', 'score']);
  for (let r = 0; r < REPEATS; r++) round(docs, bytes, figures, fields);
  console.log(`docs-codec: ${DOCS} documents of ~${json.length} B as JSON; ns per document, best and median of ${REPEATS} rounds`);
  CODECS.forEach((codec, c) => {
    const f = figures[c];
    console.log(`${codec.name.padEnd(13)} encode ${best(f.enc)} ${middle(f.enc)}   decode ${best(f.dec)} ${middle(f.dec)}   size ${f.size.toFixed(0)} B`);
  });
  const f = figures[0].fields;
  console.log(`doc-codec decodeDocFields(user, score) ${best(f)} ${middle(f)}`);
}

if (process.env.DOCS_CODEC_NO_MAIN === undefined) main();
