// Test data for the Key-value and Cache dashboard suites: raw KV writes (any
// content type, TTL, tags) and a small valid PNG built here (no image files
// in the repository).

import { deflateSync } from 'node:zlib';

/** PUT a raw value; throws on a non-2xx answer. */
export async function putRaw(baseUrl: string, key: string, body: string | Uint8Array, contentType?: string, query: Record<string, string> = {}): Promise<void> {
  const search = new URLSearchParams(query).toString();
  const response = await fetch(`${baseUrl}/api/v1/kv/${encodeURIComponent(key)}${search === '' ? '' : `?${search}`}`, {
    method: 'PUT',
    headers: contentType === undefined ? {} : { 'content-type': contentType },
    body: typeof body === 'string' ? body : Buffer.from(body),
  });
  if (!response.ok) throw new Error(`PUT ${key}: ${response.status} ${await response.text()}`);
}

/** GET a raw value: status, content type, expiry header and bytes. */
export async function getRaw(baseUrl: string, key: string): Promise<{ status: number; contentType: string | null; expiresAt: string | null; body: Buffer }> {
  const response = await fetch(`${baseUrl}/api/v1/kv/${encodeURIComponent(key)}`);
  return {
    status: response.status,
    contentType: response.headers.get('content-type'),
    expiresAt: response.headers.get('mantis-expires-at'),
    body: Buffer.from(await response.arrayBuffer()),
  };
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const b of bytes) crc = CRC_TABLE[(crc ^ b) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const typed = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(typed));
  return Buffer.concat([length, typed, crc]);
}

/** A truecolour PNG of width × height whose pixels come from `pixel` ([r, g, b]). */
export function makePng(width: number, height: number, pixel: (x: number, y: number) => readonly [number, number, number]): Buffer {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth
  header[9] = 2; // colour type: RGB
  const stride = width * 3 + 1;
  const raw = Buffer.alloc(stride * height);
  for (let y = 0; y < height; y++) {
    raw[y * stride] = 0; // filter: none
    for (let x = 0; x < width; x++) raw.set(pixel(x, y), y * stride + 1 + x * 3);
  }
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([signature, chunk('IHDR', header), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

/** An avatar-like picture: a shaded disc on a light background. */
export function avatarPng(size = 96): Buffer {
  const c = size / 2;
  return makePng(size, size, (x, y) => (Math.hypot(x - c, y - c) < c * 0.82 ? [22 + ((x * 90) / size) | 0, 128 + ((y * 60) / size) | 0, 61 + ((x * 50) / size) | 0] : [240, 244, 248]));
}

const PEOPLE = ['Ada Lovelace', 'Grace Hopper', 'Alan Turing', 'Edsger Dijkstra', 'Barbara Liskov', 'Donald Knuth', 'Margaret Hamilton', 'Ken Thompson'];

/** A user profile as an application would store it. */
export function profile(i: number): Record<string, unknown> {
  const name = PEOPLE[i % PEOPLE.length];
  return {
    id: i,
    name,
    email: `${name.split(' ')[0].toLowerCase()}.${i}@example.com`,
    plan: ['free', 'pro', 'team'][i % 3],
    created_at: new Date(Date.UTC(2026, 0, 1 + (i % 300))).toISOString(),
    preferences: { theme: i % 2 === 0 ? 'dark' : 'light', locale: ['en-GB', 'fr-FR', 'de-DE'][i % 3] },
  };
}
