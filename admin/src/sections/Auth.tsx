// Auth: users (create with roles, change roles or password, delete), API keys
// (create: the secret is shown once; revoke), roles (built-in and custom, with
// their permissions) and row-level security policies (documents and KV; table
// policies are made in SQL). With auth off these are stored all the same and
// take effect once the server runs with --auth on.

import { useState, type FormEvent } from 'react';
import { api, seg } from '../api';
import { Badge, confirmAction, DataGrid, EmptyState, ErrorNote, Field, formatTime, Loading, Modal, PageHeader, Panel, Tabs } from '../components';
import { useAction, useApi } from '../hooks';
import { useQueryParam } from '../router';
import { useSession } from '../session';
import { notify } from '../toast';
import './Auth.css';

type Tab = 'users' | 'keys' | 'roles' | 'policies';
const TABS: { id: Tab; label: string }[] = [
  { id: 'users', label: 'Users' },
  { id: 'keys', label: 'API keys' },
  { id: 'roles', label: 'Roles' },
  { id: 'policies', label: 'Policies' },
];

type Permission = { resource: string; actions: string[] };
type Role = { name: string; permissions: Permission[]; builtin: boolean };
type User = { username: string; roles: string[]; claims: Record<string, unknown>; created_at: string; source: string };
type ApiKey = { id: string; name: string; roles: string[]; claims: Record<string, unknown>; created_at: string; created_by: string; expires_at: string | null; revoked_at: string | null };
type Policy =
  | { kind: 'docs'; name: string; collection: string; command: string; roles: string[]; using: unknown; check: unknown }
  | { kind: 'kv'; name: string; template: string; command: string; roles: string[] }
  | { kind: 'table'; name: string; table: string; command: string; roles: string[]; using: string | null; check: string | null };

export default function AuthSection() {
  const { me } = useSession();
  const [tabParam, setTab] = useQueryParam('tab', 'users');
  const tab: Tab = TABS.some((t) => t.id === tabParam) ? (tabParam as Tab) : 'users';
  // Roles, users and policies are the admin's (a non-admin would get 403): not fetched for others.
  const roles = useApi<Role[]>(me.admin ? '/api/v1/auth/roles' : null);
  const roleNames = (roles.data ?? []).map((r) => r.name);
  return (
    <>
      <PageHeader title="Auth" description="Users, API keys, roles and row-level security policies." />
      {!me.auth && (
        <div className="auth-off" role="note">
          <strong>Authentication is off on this server</strong> (<code>--auth off</code>, the dev profile&apos;s default): every request acts as the system admin and nobody signs in. What you set here is stored now and takes effect once the server runs with <code>--auth on</code> (or <code>--profile staging</code> / <code>prod</code>).
        </div>
      )}
      <Tabs label="Auth pages" tabs={TABS} value={tab} onChange={(t) => setTab(t, true)} />
      {!me.admin && tab !== 'keys' ? (
        <Panel title={TABS.find((t) => t.id === tab)?.label}>
          <EmptyState title="This needs the admin role">
            You are signed in as <strong>{me.id}</strong> ({me.roles.join(', ') || 'no roles'}). Users, roles and row-level policies are managed by an administrator; you can make and revoke your own API keys under API keys.
          </EmptyState>
        </Panel>
      ) : (
        <>
          {tab === 'users' && <Users roleNames={roleNames} />}
          {tab === 'keys' && <Keys myRoles={me.admin ? roleNames : [...me.roles]} />}
          {tab === 'roles' && <Roles roles={roles.data} loading={roles.loading} error={roles.error} reload={roles.reload} />}
          {tab === 'policies' && <Policies roleNames={roleNames} />}
        </>
      )}
    </>
  );
}

/** Role checkboxes (a fieldset: its legend names the group). */
function RolePicker({ legend, names, value, onChange, extra = [] }: { legend: string; names: readonly string[]; value: readonly string[]; onChange: (v: string[]) => void; extra?: readonly string[] }) {
  const all = [...extra, ...names];
  return (
    <fieldset className="role-picker">
      <legend>{legend}</legend>
      {all.length === 0 && <span className="muted">Loading roles…</span>}
      {all.map((r) => (
        <label key={r} className="check">
          <input type="checkbox" checked={value.includes(r)} onChange={(e) => onChange(e.target.checked ? [...value, r] : value.filter((x) => x !== r))} /> {r}
        </label>
      ))}
    </fieldset>
  );
}

const roleBadges = (roles: readonly string[]) => (roles.length === 0 ? <span className="muted">none</span> : <span className="badges">{roles.map((r) => <Badge key={r} tone={r === 'admin' ? 'warn' : 'info'}>{r}</Badge>)}</span>);

/** Claims typed as JSON text: {} when empty; a parse failure is reported, not sent. */
function claimsOf(text: string): Record<string, unknown> | null {
  if (text.trim() === '') return {};
  try {
    const v = JSON.parse(text) as unknown;
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    // reported below
  }
  notify.error(new Error('claims must be a JSON object, e.g. {"tenant": "acme"}'));
  return null;
}

// ---- users ---------------------------------------------------------------------------------

function Users({ roleNames }: { roleNames: readonly string[] }) {
  const users = useApi<User[]>('/api/v1/auth/users');
  const create = useAction();
  const remove = useAction();
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [roles, setRoles] = useState<string[]>(['readonly']);
  const [claims, setClaims] = useState('');
  const [editing, setEditing] = useState<User | null>(null);

  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    const c = claimsOf(claims);
    if (c === null) return;
    const answer = await create.run(() => api.post<User>('/api/v1/auth/users', { username, password, roles, ...(Object.keys(c).length === 0 ? {} : { claims: c }) }), (a) => `User ${a.data.username} created`);
    if (answer !== undefined) {
      setUsername('');
      setPassword('');
      setClaims('');
      users.reload();
    }
  };
  const del = async (u: User): Promise<void> => {
    if (!(await confirmAction('Delete user?', <>User <strong>{u.username}</strong> is deleted; their sessions stop working at once. Their API keys stop working too.</>, 'Delete user'))) return;
    await remove.run(() => api.delete(`/api/v1/auth/users/${seg(u.username)}`), `User ${u.username} deleted`);
    users.reload();
  };

  return (
    <div className="split auth-split">
      <Panel title="New user">
        <form onSubmit={(e) => void submit(e)} aria-label="New user">
          <Field label="Username" hint="letters, digits and _ . @ : -">
            <input value={username} onChange={(e) => setUsername(e.target.value)} required autoComplete="off" name="new-username" />
          </Field>
          <Field label="Password" hint="8 characters or more">
            <input type="password" value={password} onChange={(e) => setPassword(e.target.value)} required minLength={8} autoComplete="new-password" name="new-password" />
          </Field>
          <RolePicker legend="Roles" names={roleNames} value={roles} onChange={setRoles} />
          <Field label="Claims (JSON, optional)" hint='Row-level policies read them, e.g. {"tenant": "acme"}'>
            <textarea rows={2} value={claims} onChange={(e) => setClaims(e.target.value)} className="code" />
          </Field>
          <button type="submit" className="button primary" disabled={create.busy}>
            {create.busy ? 'Creating…' : 'Create user'}
          </button>
        </form>
      </Panel>
      <Panel title="Users" actions={<span className="muted">{users.data === undefined ? '' : `${users.data.length} user(s)`}</span>}>
        {users.data === undefined ? (
          users.loading ? <Loading label="Listing users…" /> : <ErrorNote error={users.error} />
        ) : users.data.length === 0 ? (
          <EmptyState title="No user yet">Create one on the left. With auth on, the first admin comes from MANTIS_ADMIN_PASSWORD at the server&apos;s first start.</EmptyState>
        ) : (
          <DataGrid
            caption="Every user"
            columns={[
              { key: 'username', label: 'Username', render: (u) => <strong>{u.username}</strong> },
              { key: 'roles', label: 'Roles', render: (u) => roleBadges(u.roles) },
              { key: 'claims', label: 'Claims', render: (u) => (Object.keys(u.claims).length === 0 ? '' : <code>{JSON.stringify(u.claims)}</code>) },
              { key: 'source', label: 'Source' },
              { key: 'created_at', label: 'Created', render: (u) => formatTime(u.created_at) },
              {
                key: 'actions',
                label: 'Actions',
                render: (u) => (
                  <span className="actions nowrap">
                    <button type="button" className="button small" aria-label={`Edit user ${u.username}`} onClick={() => setEditing(u)}>
                      Edit
                    </button>
                    <button type="button" className="button small danger" aria-label={`Delete user ${u.username}`} disabled={remove.busy} aria-busy={remove.busy} onClick={() => void del(u)}>
                      Delete
                    </button>
                  </span>
                ),
              },
            ]}
            rows={users.data}
            rowKey={(u) => u.username}
          />
        )}
      </Panel>
      {editing !== null && (
        <EditUser
          user={editing}
          roleNames={roleNames}
          onClose={(changed) => {
            setEditing(null);
            if (changed) users.reload();
          }}
        />
      )}
    </div>
  );
}

function EditUser({ user, roleNames, onClose }: { user: User; roleNames: readonly string[]; onClose: (changed: boolean) => void }) {
  const [roles, setRoles] = useState<string[]>(user.roles);
  const [password, setPassword] = useState('');
  const [claims, setClaims] = useState(Object.keys(user.claims).length === 0 ? '' : JSON.stringify(user.claims));
  const save = useAction();
  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    const c = claimsOf(claims);
    if (c === null) return;
    const body = { roles, claims: c, ...(password === '' ? {} : { password }) };
    const answer = await save.run(() => api.patch<User>(`/api/v1/auth/users/${seg(user.username)}`, body), `User ${user.username} updated${password === '' ? '' : ' (new password)'}`);
    if (answer !== undefined) onClose(true);
  };
  return (
    <Modal
      open
      title={`Edit ${user.username}`}
      onClose={() => onClose(false)}
      footer={
        <>
          <button type="button" className="button" onClick={() => onClose(false)}>
            Cancel
          </button>
          <button type="submit" form="edit-user" className="button primary" disabled={save.busy}>
            {save.busy ? 'Saving…' : 'Save user'}
          </button>
        </>
      }
    >
      <form id="edit-user" onSubmit={(e) => void submit(e)} aria-label={`Edit ${user.username}`}>
        <RolePicker legend="Roles" names={roleNames} value={roles} onChange={setRoles} />
        <Field label="New password" hint="Leave empty to keep the current one. A new password does not end existing sessions.">
          <input type="password" value={password} onChange={(e) => setPassword(e.target.value)} minLength={8} autoComplete="new-password" />
        </Field>
        <Field label="Claims (JSON)">
          <textarea rows={2} value={claims} onChange={(e) => setClaims(e.target.value)} className="code" />
        </Field>
      </form>
    </Modal>
  );
}

// ---- API keys --------------------------------------------------------------------------------

const EXPIRIES = [
  { s: '', label: 'Never' },
  { s: '3600', label: 'In 1 hour' },
  { s: '86400', label: 'In 1 day' },
  { s: '2592000', label: 'In 30 days' },
  { s: '7776000', label: 'In 90 days' },
  { s: '31536000', label: 'In 1 year' },
];

function keyState(k: ApiKey): { tone: 'good' | 'bad' | 'neutral'; text: string } {
  if (k.revoked_at !== null) return { tone: 'bad', text: `revoked ${formatTime(k.revoked_at)}` };
  if (k.expires_at !== null && Date.parse(k.expires_at) < Date.now()) return { tone: 'neutral', text: 'expired' };
  return { tone: 'good', text: 'active' };
}

function Keys({ myRoles }: { myRoles: readonly string[] }) {
  const keys = useApi<ApiKey[]>('/api/v1/auth/keys');
  const create = useAction();
  const revoke = useAction();
  const [name, setName] = useState('');
  const [roles, setRoles] = useState<string[]>(['readonly']);
  const [expires, setExpires] = useState('2592000');
  const [created, setCreated] = useState<(ApiKey & { key: string }) | null>(null);
  const [showRevoked, setShowRevoked] = useQueryParam('revoked', '');

  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    const answer = await create.run(() => api.post<ApiKey & { key: string }>('/api/v1/auth/keys', { name, roles, ...(expires === '' ? {} : { expires_in_s: Number(expires) }) }), (a) => `API key ${a.data.name} created`);
    if (answer !== undefined) {
      setCreated(answer.data);
      setName('');
      keys.reload();
    }
  };
  const doRevoke = async (k: ApiKey): Promise<void> => {
    if (!(await confirmAction('Revoke API key?', <>Key <strong>{k.name}</strong> (<code>{k.id}</code>) stops working at once. This cannot be undone.</>, 'Revoke key'))) return;
    await revoke.run(() => api.delete(`/api/v1/auth/keys/${seg(k.id)}`), `API key ${k.name} revoked`);
    keys.reload();
  };
  const list = (keys.data ?? []).filter((k) => showRevoked === 'shown' || k.revoked_at === null);
  const hidden = (keys.data ?? []).length - list.length;

  return (
    <div className="split auth-split">
      <Panel title="New API key">
        <form onSubmit={(e) => void submit(e)} aria-label="New API key">
          <Field label="Name" hint="what or who uses it, e.g. billing-service">
            <input value={name} onChange={(e) => setName(e.target.value)} required maxLength={128} autoComplete="off" />
          </Field>
          <RolePicker legend="Roles (at most your own)" names={myRoles} value={roles} onChange={setRoles} />
          <Field label="Expires">
            <select value={expires} onChange={(e) => setExpires(e.target.value)}>
              {EXPIRIES.map((x) => (
                <option key={x.s} value={x.s}>
                  {x.label}
                </option>
              ))}
            </select>
          </Field>
          <button type="submit" className="button primary" disabled={create.busy}>
            {create.busy ? 'Creating…' : 'Create API key'}
          </button>
          <p className="muted small-note">The secret is shown once, right after creation. Send it as <code>Authorization: Bearer mk_…</code>.</p>
        </form>
      </Panel>
      <Panel
        title="API keys"
        actions={
          <label className="check">
            <input type="checkbox" checked={showRevoked === 'shown'} onChange={(e) => setShowRevoked(e.target.checked ? 'shown' : '')} /> Show revoked{hidden > 0 ? ` (${hidden})` : ''}
          </label>
        }
      >
        {keys.data === undefined ? (
          keys.loading ? <Loading label="Listing API keys…" /> : <ErrorNote error={keys.error} />
        ) : list.length === 0 ? (
          <EmptyState title="No API key">Create one on the left for a service or a script; it acts with the roles you give it, never more than yours.</EmptyState>
        ) : (
          <DataGrid
            caption="API keys, newest last"
            columns={[
              { key: 'name', label: 'Name', render: (k) => <strong>{k.name}</strong> },
              { key: 'id', label: 'Id', render: (k) => <code>{k.id}</code> },
              { key: 'roles', label: 'Roles', render: (k) => roleBadges(k.roles) },
              { key: 'created_by', label: 'Created by' },
              { key: 'created_at', label: 'Created', render: (k) => formatTime(k.created_at) },
              { key: 'expires_at', label: 'Expires', render: (k) => (k.expires_at === null ? <span className="muted">never</span> : formatTime(k.expires_at)) },
              { key: 'state', label: 'State', render: (k) => <Badge tone={keyState(k).tone}>{keyState(k).text}</Badge> },
              {
                key: 'actions',
                label: 'Actions',
                render: (k) =>
                  k.revoked_at === null ? (
                    <button type="button" className="button small danger" aria-label={`Revoke API key ${k.name}`} disabled={revoke.busy} aria-busy={revoke.busy} onClick={() => void doRevoke(k)}>
                      Revoke
                    </button>
                  ) : null,
              },
            ]}
            rows={list}
            rowKey={(k) => k.id}
          />
        )}
      </Panel>
      <Modal
        open={created !== null}
        title="API key created"
        onClose={() => setCreated(null)}
        footer={
          <button type="button" className="button primary" onClick={() => setCreated(null)}>
            I have stored it
          </button>
        }
      >
        {created !== null && <SecretView name={created.name} secret={created.key} />}
      </Modal>
    </div>
  );
}

function SecretView({ name, secret }: { name: string; secret: string }) {
  const copy = (): void => {
    // The clipboard API needs a secure context (https or localhost); otherwise select it for Ctrl+C.
    const field = document.getElementById('new-key-secret') as HTMLInputElement | null;
    if (navigator.clipboard === undefined) {
      field?.select();
      notify.info('Selected: press Ctrl+C to copy');
      return;
    }
    navigator.clipboard.writeText(secret).then(
      () => notify.success('API key copied to the clipboard'),
      () => {
        field?.select();
        notify.info('Selected: press Ctrl+C to copy');
      },
    );
  };
  return (
    <>
      <p>
        This is the only time the secret of <strong>{name}</strong> is shown. Store it now (a secret manager, an environment variable); the server keeps only its hash.
      </p>
      <div className="secret-row">
        <Field label="Secret" className="grow">
          <input id="new-key-secret" readOnly value={secret} className="code" data-testid="new-key-secret" onFocus={(e) => e.currentTarget.select()} />
        </Field>
        <button type="button" className="button" onClick={copy}>
          Copy
        </button>
      </div>
    </>
  );
}

// ---- roles ------------------------------------------------------------------------------------

type PermRow = { resource: string; read: boolean; write: boolean };

/** A custom role: a name and its permissions (resource + read/write). */
function RoleForm({ onSaved }: { onSaved: () => void }) {
  const create = useAction();
  const [name, setName] = useState('');
  const [perms, setPerms] = useState<PermRow[]>([{ resource: 'kv:', read: true, write: false }]);
  const setPerm = (i: number, patch: Partial<PermRow>): void => setPerms(perms.map((p, j) => (j === i ? { ...p, ...patch } : p)));
  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    const permissions = perms.map((p) => ({ resource: p.resource.trim(), actions: [...(p.read ? ['read'] : []), ...(p.write ? ['write'] : [])] }));
    const answer = await create.run(() => api.post<Role>('/api/v1/auth/roles', { name, permissions }), (a) => `Role ${a.data.name} saved`);
    if (answer !== undefined) {
      setName('');
      setPerms([{ resource: 'kv:', read: true, write: false }]);
      onSaved();
    }
  };
  return (
    <Panel title="New custom role">
      <form onSubmit={(e) => void submit(e)} aria-label="New custom role">
        <Field label="Name" hint="saving a custom role's name again replaces it">
          <input value={name} onChange={(e) => setName(e.target.value)} required autoComplete="off" />
        </Field>
        <fieldset className="perm-rows">
          <legend>Permissions</legend>
          {perms.map((p, i) => (
            <div key={i} className="perm-row">
              <input aria-label={`Permission ${i + 1} resource`} value={p.resource} onChange={(e) => setPerm(i, { resource: e.target.value })} required />
              <label className="check">
                <input type="checkbox" checked={p.read} onChange={(e) => setPerm(i, { read: e.target.checked })} /> read<span className="sr-only"> for permission {i + 1}</span>
              </label>
              <label className="check">
                <input type="checkbox" checked={p.write} onChange={(e) => setPerm(i, { write: e.target.checked })} /> write<span className="sr-only"> for permission {i + 1}</span>
              </label>
              <button type="button" className="button small" aria-label={`Remove permission ${i + 1}`} disabled={perms.length === 1} onClick={() => setPerms(perms.filter((_, j) => j !== i))}>
                Remove
              </button>
            </div>
          ))}
          <button type="button" className="button small" onClick={() => setPerms([...perms, { resource: '', read: true, write: false }])}>
            Add permission
          </button>
          <span className="muted field-hint">Resources: kv:&lt;prefix&gt;, docs:&lt;collection&gt; or docs:*, tables:&lt;table&gt; or tables:*, sql, cache, admin, or * for all.</span>
        </fieldset>
        <button type="submit" className="button primary" disabled={create.busy}>
          {create.busy ? 'Saving…' : 'Save role'}
        </button>
      </form>
    </Panel>
  );
}

function Roles({ roles, loading, error, reload }: { roles: Role[] | undefined; loading: boolean; error: Error | undefined; reload: () => void }) {
  const remove = useAction();
  const del = async (r: Role): Promise<void> => {
    if (!(await confirmAction('Delete role?', <>Custom role <strong>{r.name}</strong> is deleted. Users and keys that carry it lose its permissions.</>, 'Delete role'))) return;
    await remove.run(() => api.delete(`/api/v1/auth/roles/${seg(r.name)}`), `Role ${r.name} deleted`);
    reload();
  };

  return (
    <div className="split auth-split">
      <RoleForm onSaved={reload} />
      <Panel title="Roles">
        {roles === undefined ? (
          loading ? <Loading label="Listing roles…" /> : <ErrorNote error={error} />
        ) : (
          <DataGrid
            caption="Roles and their permissions"
            columns={[
              { key: 'name', label: 'Role', render: (r) => <strong>{r.name}</strong> },
              { key: 'builtin', label: 'Type', render: (r) => (r.builtin ? <Badge>built-in</Badge> : <Badge tone="info">custom</Badge>) },
              {
                key: 'permissions',
                label: 'Permissions',
                render: (r) => (
                  <ul className="perm-list">
                    {r.permissions.map((p) => (
                      <li key={p.resource}>
                        <code>{p.resource}</code> {p.actions.join(' + ')}
                      </li>
                    ))}
                  </ul>
                ),
              },
              {
                key: 'actions',
                label: 'Actions',
                render: (r) =>
                  r.builtin ? null : (
                    <button type="button" className="button small danger" aria-label={`Delete role ${r.name}`} disabled={remove.busy} aria-busy={remove.busy} onClick={() => void del(r)}>
                      Delete
                    </button>
                  ),
              },
            ]}
            rows={roles}
            rowKey={(r) => r.name}
          />
        )}
      </Panel>
    </div>
  );
}

// ---- policies ------------------------------------------------------------------------------------

const COMMANDS = ['all', 'select', 'insert', 'update', 'delete'];

const policyObject = (p: Policy): string => (p.kind === 'docs' ? p.collection : p.kind === 'kv' ? p.template : p.table);

function ruleText(v: unknown): string {
  if (v === null || v === undefined) return '';
  return typeof v === 'string' ? v : JSON.stringify(v);
}

function Policies({ roleNames }: { roleNames: readonly string[] }) {
  const policies = useApi<Policy[]>('/api/v1/auth/policies');
  const create = useAction();
  const remove = useAction();
  const [kind, setKind] = useState<'docs' | 'kv'>('docs');
  const [name, setName] = useState('');
  const [object, setObject] = useState('');
  const [command, setCommand] = useState('all');
  const [roles, setRoles] = useState<string[]>(['public']);
  const [using, setUsing] = useState('{"tenant": "$$CLAIMS.tenant"}');
  const [check, setCheck] = useState('');
  const rlsTables = (policies.meta as { rls_tables?: string[] }).rls_tables ?? [];

  const filter = (label: string, text: string): Record<string, unknown> | null | undefined => {
    if (text.trim() === '') return null;
    try {
      const v = JSON.parse(text) as unknown;
      if (v !== null && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
    } catch {
      // reported below
    }
    notify.error(new Error(`${label} must be a filter document (a JSON object)`));
    return undefined;
  };
  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    let body: Record<string, unknown>;
    if (kind === 'docs') {
      const u = command === 'insert' ? null : filter('USING', using);
      const c = command === 'select' || command === 'delete' ? null : filter('WITH CHECK', check);
      if (u === undefined || c === undefined) return;
      body = { kind, name, collection: object, command, roles, using: u, check: c };
    } else body = { kind, name, prefix: object, command, roles };
    const answer = await create.run(() => api.post<Policy>('/api/v1/auth/policies', body), (a) => `Policy ${a.data.name} created`);
    if (answer !== undefined) {
      setName('');
      policies.reload();
    }
  };
  const del = async (p: Policy): Promise<void> => {
    if (!(await confirmAction('Delete policy?', <>Policy <strong>{p.name}</strong> on <code>{policyObject(p)}</code> is dropped at once: the rows it granted are no longer visible to the roles it named.</>, 'Delete policy'))) return;
    await remove.run(() => api.delete(`/api/v1/auth/policies/${seg(p.kind)}/${seg(policyObject(p))}/${seg(p.name)}`), `Policy ${p.name} deleted`);
    policies.reload();
  };

  return (
    <div className="split auth-split">
      <Panel title="New policy">
        <form onSubmit={(e) => void submit(e)} aria-label="New policy">
          <Field label="Applies to">
            <select value={kind} onChange={(e) => setKind(e.target.value as 'docs' | 'kv')}>
              <option value="docs">a document collection</option>
              <option value="kv">KV keys under a prefix</option>
            </select>
          </Field>
          <Field label="Name">
            <input value={name} onChange={(e) => setName(e.target.value)} required autoComplete="off" />
          </Field>
          {kind === 'docs' ? (
            <Field label="Collection">
              <input value={object} onChange={(e) => setObject(e.target.value)} required />
            </Field>
          ) : (
            <Field label="Key prefix template" hint="{sub} is the caller, {claim} any claim: user:{sub}: lets each caller reach only their own keys under user:">
              <input value={object} onChange={(e) => setObject(e.target.value)} required />
            </Field>
          )}
          <Field label="Command">
            <select value={command} onChange={(e) => setCommand(e.target.value)}>
              {COMMANDS.map((c) => (
                <option key={c}>{c}</option>
              ))}
            </select>
          </Field>
          <RolePicker legend="Roles it applies to" names={roleNames} extra={['public']} value={roles} onChange={setRoles} />
          {kind === 'docs' && command !== 'insert' && (
            <Field label="USING: the documents a role sees (filter)" hint={'"$$CLAIMS.x" stands for the caller\'s claim x'}>
              <textarea rows={2} className="code" value={using} onChange={(e) => setUsing(e.target.value)} />
            </Field>
          )}
          {kind === 'docs' && command !== 'select' && command !== 'delete' && (
            <Field label="WITH CHECK: the documents a role may write (filter)" hint="empty: same as USING">
              <textarea rows={2} className="code" value={check} onChange={(e) => setCheck(e.target.value)} />
            </Field>
          )}
          <button type="submit" className="button primary" disabled={create.busy}>
            {create.busy ? 'Creating…' : 'Create policy'}
          </button>
          <p className="muted small-note">
            Table policies are SQL: <code>CREATE POLICY name ON table USING (…) WITH CHECK (…)</code> and <code>ALTER TABLE t ENABLE ROW LEVEL SECURITY</code> in the SQL section.
          </p>
        </form>
      </Panel>
      <Panel title="Row-level security policies" actions={rlsTables.length > 0 && <span className="muted">RLS on tables: {rlsTables.join(', ')}</span>}>
        {policies.data === undefined ? (
          policies.loading ? <Loading label="Listing policies…" /> : <ErrorNote error={policies.error} />
        ) : policies.data.length === 0 ? (
          <EmptyState title="No policy">Without policies, permissions alone decide. Add one to limit which documents or keys each role reaches, e.g. every user sees only their own orders.</EmptyState>
        ) : (
          <DataGrid
            caption="Every row-level security policy"
            columns={[
              { key: 'kind', label: 'On', render: (p) => <Badge tone="info">{p.kind === 'docs' ? 'collection' : p.kind === 'kv' ? 'KV prefix' : 'table'}</Badge> },
              { key: 'object', label: 'Object', render: (p) => <code>{policyObject(p)}</code> },
              { key: 'name', label: 'Name', render: (p) => <strong>{p.name}</strong> },
              { key: 'command', label: 'Command' },
              { key: 'roles', label: 'Roles', render: (p) => roleBadges(p.roles) },
              { key: 'using', label: 'USING', render: (p) => (p.kind === 'kv' ? '' : <code>{ruleText(p.using)}</code>) },
              { key: 'check', label: 'WITH CHECK', render: (p) => (p.kind === 'kv' ? '' : <code>{ruleText(p.check)}</code>) },
              {
                key: 'actions',
                label: 'Actions',
                render: (p) => (
                  <button type="button" className="button small danger" aria-label={`Delete policy ${p.name}`} disabled={remove.busy} aria-busy={remove.busy} onClick={() => void del(p)}>
                    Delete
                  </button>
                ),
              },
            ]}
            rows={policies.data}
            rowKey={(p) => `${p.kind}/${policyObject(p)}/${p.name}`}
          />
        )}
      </Panel>
    </div>
  );
}
