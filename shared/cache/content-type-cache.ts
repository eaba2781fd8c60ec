// Router side: turns content-type bytes in a segment into strings without
// allocating one per hit. Keeps a few (bytes, string) pairs, each decoded from
// its own private copy, so a pair is consistent even when the bytes it was
// copied from were being rewritten (the caller validates the read separately).

const PAIRS_MAX = 8;

export class ContentTypeCache {
  private readonly encoded: Uint8Array[] = [];
  private readonly decoded: string[] = [];
  private next = 0;

  decode(bytes: Uint8Array, start: number, length: number): string {
    for (let p = 0; p < this.encoded.length; p++) {
      if (sameBytes(this.encoded[p], bytes, start, length)) return this.decoded[p];
    }
    const copy = bytes.slice(start, start + length);
    const text = String.fromCharCode(...copy);
    this.encoded[this.next] = copy;
    this.decoded[this.next] = text;
    this.next = (this.next + 1) % PAIRS_MAX;
    return text;
  }
}

function sameBytes(known: Uint8Array, bytes: Uint8Array, start: number, length: number): boolean {
  if (known.length !== length) return false;
  for (let i = 0; i < length; i++) if (known[i] !== bytes[start + i]) return false;
  return true;
}
