// The Key-value section's dialogs: create or edit a key (value typed or from a
// file, content type, TTL, cache tags) and change a key's expiry.

import { useState, type FormEvent } from 'react';
import { CodeEditor, confirmAction, Field, formatBytes, Modal } from '../components';
import { useAction } from '../hooks';
import { baseType, headKey, parseTags, writeKey, type PutAnswer, type StoredValue } from './kv-store';

const CONTENT_TYPES = [
  'application/json',
  'text/plain; charset=utf-8',
  'text/html; charset=utf-8',
  'text/csv',
  'application/xml',
  'image/png',
  'image/jpeg',
  'image/gif',
  'image/webp',
  'image/svg+xml',
  'application/octet-stream',
];

const TTL_HINT = 'Seconds until the key expires (1–315,360,000). Leave empty for no expiry.';
const TAGS_HINT = 'Comma-separated, for invalidation by tag. A write replaces the key\'s tags, and the server does not report earlier ones: give them again.';

type Source = 'text' | 'file' | 'keep';

export type EditTarget =
  | { readonly mode: 'create'; readonly key?: string }
  | { readonly mode: 'edit'; readonly key: string; readonly value: StoredValue; readonly text: string | null };

/** Remaining whole seconds of an expiry (rounded up), '' when none. */
function remainingSeconds(expiresAt: string | null | undefined): string {
  if (expiresAt === null || expiresAt === undefined) return '';
  const ms = Date.parse(expiresAt) - Date.now();
  return ms > 0 ? String(Math.ceil(ms / 1000)) : '';
}

function prettyIfJson(text: string, contentType: string): string {
  if (baseType(contentType) !== 'application/json') return text;
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

export function KeyEditor({ target, onClose, onSaved }: { target: EditTarget; onClose: () => void; onSaved: (answer: PutAnswer) => void }) {
  const editing = target.mode === 'edit';
  const [key, setKey] = useState(target.key ?? '');
  const [contentType, setContentType] = useState(editing ? target.value.contentType : 'application/json');
  const [source, setSource] = useState<Source>(editing && target.text === null ? 'keep' : 'text');
  const [text, setText] = useState(editing ? prettyIfJson(target.text ?? '', target.value.contentType) : '{\n  "name": "Ada"\n}');
  const [file, setFile] = useState<File | null>(null);
  const [ttl, setTtl] = useState(editing ? remainingSeconds(target.value.expiresAt) : '');
  const [tags, setTags] = useState('');
  const [problem, setProblem] = useState<string | null>(null);
  const action = useAction();
  const [checking, setChecking] = useState(false);
  const busy = action.busy || checking;
  const isJson = baseType(contentType) === 'application/json';

  const bodyOf = async (): Promise<Uint8Array | null> => {
    if (source === 'keep' && editing) return target.value.bytes;
    if (source === 'file') {
      if (file === null) {
        setProblem('Choose a file for the value.');
        return null;
      }
      return new Uint8Array(await file.arrayBuffer());
    }
    if (isJson) {
      try {
        JSON.parse(text);
      } catch (error) {
        setProblem(`The value is not valid JSON: ${(error as Error).message}`);
        return null;
      }
    }
    return new TextEncoder().encode(text);
  };

  const save = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    setProblem(null);
    if (key === '') {
      setProblem('Give the key a name.');
      return;
    }
    const body = await bodyOf();
    if (body === null) return;
    if (!editing) {
      // PUT overwrites: ask before replacing a key that already exists. A HEAD answer has no
      // body to carry an error code, so a failed check is left to the PUT to report.
      setChecking(true);
      const existing = await headKey(key).catch(() => null);
      setChecking(false);
      if (existing !== null && !(await confirmAction('Overwrite key', <>A key named <code>{key}</code> already exists ({formatBytes(existing.size)}). Replace its value?</>, 'Overwrite'))) return;
    }
    const answer = await action.run(
      () => writeKey(key, body, { contentType, ttl: ttl.trim() === '' ? null : ttl.trim(), tags: parseTags(tags) }),
      (a) => `Saved ${a.key} (${formatBytes(a.bytes)})`,
    );
    if (answer !== undefined) onSaved(answer);
  };

  return (
    <Modal
      open
      wide
      title={editing ? `Edit ${target.key}` : 'New key'}
      onClose={onClose}
      footer={
        <>
          <button type="button" className="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" form="kv-editor-form" className="button primary" disabled={busy} aria-busy={busy}>
            {busy ? 'Saving…' : editing ? 'Save' : 'Create key'}
          </button>
        </>
      }
    >
      <form id="kv-editor-form" className="kv-form" onSubmit={(e) => void save(e)}>
        {editing ? (
          <p className="kv-form-key">
            Key <code>{target.key}</code>
          </p>
        ) : (
          <Field label="Key" hint="1–1024 bytes of UTF-8; '/', ':' and any Unicode are fine, e.g. user:42 or images/logo.png.">
            <input name="key" value={key} onChange={(e) => setKey(e.target.value)} autoComplete="off" spellCheck={false} autoFocus />
          </Field>
        )}
        <div className="kv-form-row">
          <Field label="Content type" hint="Stored with the value and sent back on GET.">
            <input name="content-type" list="kv-content-types" value={contentType} onChange={(e) => setContentType(e.target.value)} spellCheck={false} />
          </Field>
          <Field label="Value from">
            <select name="source" value={source} onChange={(e) => setSource(e.target.value as Source)}>
              <option value="text">Text typed below</option>
              <option value="file">A file</option>
              {editing && <option value="keep">The current value ({formatBytes(target.value.bytes.length)})</option>}
            </select>
          </Field>
        </div>
        <datalist id="kv-content-types">
          {CONTENT_TYPES.map((t) => (
            <option key={t} value={t} />
          ))}
        </datalist>
        {source === 'text' && (
          <div className="kv-form-value">
            <CodeEditor value={text} onChange={setText} language={isJson ? 'json' : 'text'} label="Value" rows={12} />
            {isJson && (
              <button type="button" className="button small" onClick={() => setText(prettyIfJson(text, contentType))}>
                Format JSON
              </button>
            )}
          </div>
        )}
        {source === 'file' && (
          <Field label="File" hint={file === null ? 'Any file: an image, a document, binary data.' : `${file.name}, ${formatBytes(file.size)}`}>
            <input
              type="file"
              name="file"
              onChange={(e) => {
                const chosen = e.target.files?.[0] ?? null;
                setFile(chosen);
                // The file's own type is a better guess than a type meant for typed text.
                if (chosen !== null && chosen.type !== '') setContentType(chosen.type);
              }}
            />
          </Field>
        )}
        {source === 'keep' && <p className="muted">The value is kept as it is; only the content type, expiry and tags change.</p>}
        <div className="kv-form-row">
          <Field label="TTL (seconds)" hint={TTL_HINT}>
            <input name="ttl" inputMode="numeric" value={ttl} onChange={(e) => setTtl(e.target.value)} autoComplete="off" />
          </Field>
          <Field label="Cache tags" hint={TAGS_HINT}>
            <input name="tags" value={tags} onChange={(e) => setTags(e.target.value)} autoComplete="off" spellCheck={false} />
          </Field>
        </div>
        {problem !== null && (
          <p className="error-note" role="alert">
            {problem}
          </p>
        )}
      </form>
    </Modal>
  );
}

const PRESETS: readonly [string, number][] = [
  ['1 minute', 60],
  ['1 hour', 3600],
  ['1 day', 86_400],
  ['1 week', 604_800],
];

/** Sets or removes a key's TTL: the server takes a TTL only with a value, so the value is written again as loaded. */
export function ExpiryEditor({ keyName, value, onClose, onSaved }: { keyName: string; value: StoredValue; onClose: () => void; onSaved: (answer: PutAnswer) => void }) {
  const [ttl, setTtl] = useState(remainingSeconds(value.expiresAt) || '3600');
  const [tags, setTags] = useState('');
  const action = useAction();
  const write = async (seconds: string | null): Promise<void> => {
    const answer = await action.run(
      () => writeKey(keyName, value.bytes, { contentType: value.contentType, ttl: seconds, tags: parseTags(tags) }),
      (a) => (a.expires_at === null ? `${a.key} no longer expires` : `${a.key} expires at ${new Date(a.expires_at).toLocaleString('en-GB', { hour12: false })}`),
    );
    if (answer !== undefined) onSaved(answer);
  };
  return (
    <Modal
      open
      title={`Expiry of ${keyName}`}
      onClose={onClose}
      footer={
        <>
          <button type="button" className="button" onClick={onClose}>
            Cancel
          </button>
          {value.expiresAt !== null && (
            <button type="button" className="button" disabled={action.busy} onClick={() => void write(null)}>
              Remove expiry
            </button>
          )}
          <button type="submit" form="kv-expiry-form" className="button primary" disabled={action.busy} aria-busy={action.busy}>
            {action.busy ? 'Saving…' : 'Set expiry'}
          </button>
        </>
      }
    >
      <form
        id="kv-expiry-form"
        onSubmit={(e) => {
          e.preventDefault();
          void write(ttl.trim());
        }}
      >
        <Field label="Expire after (seconds)" hint={TTL_HINT}>
          <input name="ttl" inputMode="numeric" value={ttl} onChange={(e) => setTtl(e.target.value)} autoComplete="off" autoFocus />
        </Field>
        <div className="actions kv-presets" role="group" aria-label="Common expiries">
          {PRESETS.map(([label, seconds]) => (
            <button key={label} type="button" className="button small" onClick={() => setTtl(String(seconds))}>
              {label}
            </button>
          ))}
        </div>
        <Field label="Cache tags" hint={TAGS_HINT}>
          <input name="tags" value={tags} onChange={(e) => setTags(e.target.value)} autoComplete="off" spellCheck={false} />
        </Field>
        <p className="muted">The value ({formatBytes(value.bytes.length)}, {value.contentType}) is written again with the new expiry.</p>
      </form>
    </Modal>
  );
}
