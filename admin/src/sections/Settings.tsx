// Settings: alert rules (edit, add, remove, save: PUT /api/v1/alerts/rules)
// beside their current states, rate limits (PUT /api/v1/admin/rate-limits),
// who the caller is (GET /api/v1/auth/me) and the configuration in force
// (GET /api/v1/admin/config, secrets masked by the server).

import { useEffect, useState, type FormEvent, type ReactNode } from 'react';
import { api } from '../api';
import { Badge, DataGrid, EmptyState, ErrorNote, Field, formatBytes, formatNumber, formatTime, JsonView, Loading, PageHeader, Panel, Stat, Tabs } from '../components';
import { useAction, useApi } from '../hooks';
import { useQueryParam } from '../router';
import { useSession, type Me } from '../session';
import './Settings.css';

type Tab = 'alerts' | 'limits' | 'profile' | 'config';
const TABS: { id: Tab; label: string }[] = [
  { id: 'alerts', label: 'Alert rules' },
  { id: 'limits', label: 'Rate limits' },
  { id: 'profile', label: 'Profile' },
  { id: 'config', label: 'Configuration' },
];

export default function SettingsSection() {
  const [tabParam, setTab] = useQueryParam('tab', 'alerts');
  const tab: Tab = TABS.some((t) => t.id === tabParam) ? (tabParam as Tab) : 'alerts';
  const { me } = useSession();
  // Everything but the profile is the admin's (others would get 403 FORBIDDEN).
  const allowed = me.admin || tab === 'profile';
  return (
    <>
      <PageHeader title="Settings" description="Alert rules, rate limits, your profile and the configuration the server runs with. Changes apply at once." />
      <Tabs label="Settings pages" tabs={TABS} value={tab} onChange={(t) => setTab(t, true)} />
      {!allowed && (
        <Panel title={TABS.find((t) => t.id === tab)?.label}>
          <EmptyState title="This needs the admin role">
            You are signed in as <strong>{me.id}</strong> ({me.roles.join(', ') || 'no roles'}); alert rules, rate limits and the configuration are an administrator&apos;s. Your own details are under Profile.
          </EmptyState>
        </Panel>
      )}
      {allowed && tab === 'alerts' && <Alerts />}
      {allowed && tab === 'limits' && <RateLimits />}
      {tab === 'profile' && <Profile />}
      {allowed && tab === 'config' && <Config />}
    </>
  );
}

// ---- alerts -------------------------------------------------------------------------------

type Rule = { name: string; metric: string; op: string; value: number; for_s: number; severity: string; description?: string };
type AlertState = { name: string; state: 'inactive' | 'pending' | 'firing'; value: number | null; since: number | null; severity: string; metric: string; op: string; threshold: number; for_s: number };
/** A rule being edited: numbers as typed, so a half-typed "0." survives re-renders. */
type Draft = { key: number; name: string; metric: string; op: string; value: string; for_s: string; severity: string; description: string };

// The snapshot fields a rule may watch (src/ops/alerts.ts ALERT_METRICS).
const METRICS = [
  'requests_per_s',
  'errors_per_s',
  'error_ratio',
  'latency_p50_ms',
  'latency_p95_ms',
  'latency_p99_ms',
  'cache_hit_rate',
  'memory_rss_bytes',
  'memory_heap_used_bytes',
  'disk_free_bytes',
  'open_transactions',
  'connections',
  'compactions_per_s',
  'flushes_per_s',
  'wal_bytes_per_s',
  'shard_queue_depth_max',
  'shard_fsync_p99_ms_max',
  'shards_not_ready',
];
const OPS = ['>', '>=', '<', '<=', '==', '!='];
const SEVERITIES = ['info', 'warning', 'critical'];

let draftKeys = 0;
const draftOf = (r: Rule): Draft => ({ key: ++draftKeys, name: r.name, metric: r.metric, op: r.op, value: String(r.value), for_s: String(r.for_s), severity: r.severity, description: r.description ?? '' });

/** A number as the API wants it; text that is not one goes as typed, so the server names the problem. */
function numberOf(text: string): number | string {
  const n = Number(text);
  return text.trim() !== '' && Number.isFinite(n) ? n : text;
}

function ruleOf(d: Draft): Record<string, unknown> {
  return { name: d.name.trim(), metric: d.metric, op: d.op, value: numberOf(d.value), for_s: numberOf(d.for_s), severity: d.severity, ...(d.description.trim() === '' ? {} : { description: d.description.trim() }) };
}

function measure(metric: string, value: number | null): string {
  if (value === null) return '–';
  if (metric.endsWith('_bytes')) return formatBytes(value);
  if (metric === 'error_ratio' || metric === 'cache_hit_rate') return `${formatNumber(value * 100, 1)} %`;
  if (metric.endsWith('_ms') || metric.endsWith('_ms_max')) return `${formatNumber(value, 2)} ms`;
  return formatNumber(value, 2);
}

function Alerts() {
  const rules = useApi<Rule[]>('/api/v1/alerts/rules');
  const states = useApi<AlertState[]>('/api/v1/alerts', { refreshMs: 5000 });
  // base: the rules in force (as read, or as the last save answered); drafts: the edited copy.
  const [base, setBase] = useState<Rule[] | undefined>(undefined);
  const [drafts, setDrafts] = useState<Draft[] | null>(null);
  const [dirty, setDirty] = useState(false);
  const save = useAction();
  useEffect(() => {
    if (rules.data !== undefined) setBase(rules.data);
  }, [rules.data]);
  useEffect(() => {
    if (base !== undefined && !dirty) setDrafts(base.map(draftOf));
  }, [base, dirty]);

  const edit = (key: number, patch: Partial<Draft>): void => {
    setDrafts((ds) => (ds ?? []).map((d) => (d.key === key ? { ...d, ...patch } : d)));
    setDirty(true);
  };
  const add = (): void => {
    setDrafts((ds) => [...(ds ?? []), { key: ++draftKeys, name: '', metric: 'latency_p99_ms', op: '>', value: '100', for_s: '60', severity: 'warning', description: '' }]);
    setDirty(true);
  };
  const remove = (key: number): void => {
    setDrafts((ds) => (ds ?? []).filter((d) => d.key !== key));
    setDirty(true);
  };
  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    if (drafts === null) return;
    const answer = await save.run(() => api.put<Rule[]>('/api/v1/alerts/rules', { rules: drafts.map(ruleOf) }), (a) => `Saved ${a.data.length} alert rule(s)`);
    if (answer !== undefined) {
      setBase(answer.data);
      setDirty(false);
      states.reload();
    }
  };
  const discard = (): void => {
    setDirty(false);
    rules.reload();
  };

  const firing = (states.data ?? []).filter((s) => s.state === 'firing').length;
  const pending = (states.data ?? []).filter((s) => s.state === 'pending').length;

  return (
    <>
      <Panel title="Alert states" actions={states.data !== undefined && <span className="muted">{firing} firing · {pending} pending · evaluated every second</span>}>
        {states.data === undefined ? (
          states.loading ? <Loading /> : <ErrorNote error={states.error} />
        ) : states.data.length === 0 ? (
          <EmptyState title="No alert rule">Add a rule below: it is evaluated once a second against the metric snapshot.</EmptyState>
        ) : (
          <DataGrid
            caption="The state of each alert rule"
            columns={[
              { key: 'name', label: 'Rule' },
              { key: 'state', label: 'State', render: (s) => <Badge tone={s.state === 'firing' ? 'bad' : s.state === 'pending' ? 'warn' : 'neutral'}>{s.state}</Badge> },
              { key: 'severity', label: 'Severity', render: (s) => <Badge tone={s.severity === 'critical' ? 'bad' : s.severity === 'warning' ? 'warn' : 'info'}>{s.severity}</Badge> },
              { key: 'condition', label: 'Condition', render: (s) => <code>{`${s.metric} ${s.op} ${measure(s.metric, s.threshold)} for ${s.for_s} s`}</code> },
              { key: 'value', label: 'Last reading', numeric: true, render: (s) => measure(s.metric, s.value) },
              { key: 'since', label: 'Since', render: (s) => (s.since === null ? <span className="muted">server start</span> : formatTime(s.since)) },
            ]}
            rows={states.data}
            rowKey={(s) => s.name}
          />
        )}
      </Panel>
      <Panel title="Alert rules">
        <p className="muted small-note">
          Saving replaces every rule (the defaults included) and persists them in the data directory. A rule fires once its condition has held for <em>for</em> seconds; state changes go to the metric stream and any <code>--alert-webhook</code>.
        </p>
        {drafts === null ? (
          rules.loading ? <Loading label="Reading the rules…" /> : <ErrorNote error={rules.error} />
        ) : (
          <form onSubmit={(e) => void submit(e)} aria-label="Alert rules">
            {drafts.length === 0 ? (
              <EmptyState title="No rules">With no rule nothing alerts. Add one, then save.</EmptyState>
            ) : (
              <div className="grid-wrap edit-wrap">
                <table className="grid edit-grid">
                  <caption className="sr-only">Alert rules being edited</caption>
                  <thead>
                    <tr>
                      <th scope="col">Name</th>
                      <th scope="col">Metric</th>
                      <th scope="col">Op</th>
                      <th scope="col">Threshold</th>
                      <th scope="col">For (s)</th>
                      <th scope="col">Severity</th>
                      <th scope="col">Description</th>
                      <th scope="col">
                        <span className="sr-only">Remove</span>
                      </th>
                    </tr>
                  </thead>
                  <tbody>
                    {drafts.map((d, i) => {
                      const n = i + 1;
                      const threshold = Number(d.value);
                      return (
                        <tr key={d.key}>
                          <td>
                            <input aria-label={`Rule ${n} name`} value={d.name} onChange={(e) => edit(d.key, { name: e.target.value })} required className="name-input" />
                          </td>
                          <td>
                            <select aria-label={`Rule ${n} metric`} value={d.metric} onChange={(e) => edit(d.key, { metric: e.target.value })}>
                              {METRICS.map((m) => (
                                <option key={m}>{m}</option>
                              ))}
                            </select>
                          </td>
                          <td>
                            <select aria-label={`Rule ${n} operator`} value={d.op} onChange={(e) => edit(d.key, { op: e.target.value })} className="op-select">
                              {OPS.map((o) => (
                                <option key={o}>{o}</option>
                              ))}
                            </select>
                          </td>
                          <td>
                            <input aria-label={`Rule ${n} threshold`} inputMode="decimal" value={d.value} onChange={(e) => edit(d.key, { value: e.target.value })} className="num-input" />
                            {d.metric.endsWith('_bytes') && Number.isFinite(threshold) && <div className="muted cell-hint">{formatBytes(threshold)}</div>}
                          </td>
                          <td>
                            <input aria-label={`Rule ${n} for seconds`} inputMode="numeric" value={d.for_s} onChange={(e) => edit(d.key, { for_s: e.target.value })} className="short-input" />
                          </td>
                          <td>
                            <select aria-label={`Rule ${n} severity`} value={d.severity} onChange={(e) => edit(d.key, { severity: e.target.value })}>
                              {SEVERITIES.map((s) => (
                                <option key={s}>{s}</option>
                              ))}
                            </select>
                          </td>
                          <td>
                            <input aria-label={`Rule ${n} description`} value={d.description} onChange={(e) => edit(d.key, { description: e.target.value })} className="wide-input" />
                          </td>
                          <td>
                            <button type="button" className="button small danger" aria-label={`Remove rule ${n} ${d.name}`} onClick={() => remove(d.key)}>
                              Remove
                            </button>
                          </td>
                        </tr>
                      );
                    })}
                  </tbody>
                </table>
              </div>
            )}
            <div className="actions form-actions">
              <button type="button" className="button" onClick={add}>
                Add rule
              </button>
              <span className="spacer" />
              {dirty && <span className="muted">Unsaved changes</span>}
              <button type="button" className="button" onClick={discard} disabled={!dirty || save.busy}>
                Discard changes
              </button>
              <button type="submit" className="button primary" disabled={!dirty || save.busy}>
                {save.busy ? 'Saving…' : 'Save rules'}
              </button>
            </div>
          </form>
        )}
      </Panel>
    </>
  );
}

// ---- rate limits ---------------------------------------------------------------------------------

type Limit = { rps: number; burst: number };
type Limits = { rps: number; burst: number; classes: Partial<Record<string, Limit>>; connections_per_ip: number };
const CLASSES: { id: string; what: string }[] = [
  { id: 'read', what: 'GET and HEAD of data routes' },
  { id: 'write', what: 'writes to data routes' },
  { id: 'query', what: 'SQL, CQL and document queries' },
  { id: 'auth', what: '/api/v1/auth/* (login included)' },
  { id: 'admin', what: '/api/v1/admin/* and Prometheus' },
];
type LimitsDraft = { rps: string; burst: string; connections: string; classes: Record<string, { own: boolean; rps: string; burst: string }> };

function limitsDraft(l: Limits): LimitsDraft {
  const classes: LimitsDraft['classes'] = {};
  for (const c of CLASSES) {
    const own = l.classes[c.id];
    classes[c.id] = { own: own !== undefined, rps: String(own?.rps ?? l.rps), burst: String(own?.burst ?? l.burst) };
  }
  return { rps: String(l.rps), burst: String(l.burst), connections: String(l.connections_per_ip), classes };
}

function RateLimits() {
  const limits = useApi<Limits>('/api/v1/admin/rate-limits');
  const [current, setCurrent] = useState<Limits | undefined>(undefined);
  const [draft, setDraft] = useState<LimitsDraft | null>(null);
  const save = useAction();
  useEffect(() => {
    if (limits.data === undefined) return;
    setCurrent(limits.data);
    setDraft(limitsDraft(limits.data));
  }, [limits.data]);

  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    if (draft === null) return;
    const body = {
      rps: numberOf(draft.rps),
      burst: numberOf(draft.burst),
      connections_per_ip: numberOf(draft.connections),
      // null drops a class's own limit (the server merges classes into the current ones).
      classes: Object.fromEntries(CLASSES.map((c) => [c.id, draft.classes[c.id].own ? { rps: numberOf(draft.classes[c.id].rps), burst: numberOf(draft.classes[c.id].burst) } : null])),
    };
    const answer = await save.run(() => api.put<Limits>('/api/v1/admin/rate-limits', body), 'Rate limits saved: they apply to the next request');
    if (answer !== undefined) {
      setCurrent(answer.data);
      setDraft(limitsDraft(answer.data));
    }
  };
  const setClass = (id: string, patch: Partial<LimitsDraft['classes'][string]>): void => setDraft((d) => (d === null ? d : { ...d, classes: { ...d.classes, [id]: { ...d.classes[id], ...patch } } }));

  if (draft === null) return limits.loading ? <Loading label="Reading the rate limits…" /> : <ErrorNote error={limits.error} />;
  const off = current !== undefined && current.rps === 0 && Object.values(current.classes).every((c) => c === undefined || c.rps === 0);
  return (
    <form onSubmit={(e) => void submit(e)} aria-label="Rate limits">
      <div className="cards">
        <Stat label="Requests per identity" value={current === undefined ? '–' : current.rps === 0 ? 'no limit' : `${formatNumber(current.rps)}/s`} hint={current === undefined || current.rps === 0 ? 'rps 0 = unlimited' : `burst ${formatNumber(current.burst)}`} />
        <Stat label="Per-class limits" value={formatNumber(Object.keys(current?.classes ?? {}).length)} hint="classes with their own limit" />
        <Stat label="Connections per IP" value={current === undefined ? '–' : current.connections_per_ip === 0 ? 'no limit' : formatNumber(current.connections_per_ip)} hint="requests in flight + streams" />
      </div>
      <Panel title="Default limit">
        <p className="muted small-note">
          {off ? 'Rate limiting is off (every rps is 0). ' : ''}Token buckets per identity (API key, user, token subject, or IP when anonymous): a bucket holds <em>burst</em> requests and refills at <em>rps</em> per second; a request beyond is answered 429 RATE_LIMITED. Changes start every bucket full.
        </p>
        <div className="toolbar">
          <Field label="Requests per second" hint="0 = no limit">
            <input inputMode="numeric" value={draft.rps} onChange={(e) => setDraft({ ...draft, rps: e.target.value })} />
          </Field>
          <Field label="Burst" hint="requests allowed at once">
            <input inputMode="numeric" value={draft.burst} onChange={(e) => setDraft({ ...draft, burst: e.target.value })} />
          </Field>
          <Field label="Connections per IP" hint="0 = no limit">
            <input inputMode="numeric" value={draft.connections} onChange={(e) => setDraft({ ...draft, connections: e.target.value })} />
          </Field>
        </div>
      </Panel>
      <Panel title="Per route class">
        <div className="grid-wrap">
          <table className="grid edit-grid">
            <caption className="sr-only">Rate limits per route class</caption>
            <thead>
              <tr>
                <th scope="col">Class</th>
                <th scope="col">Routes</th>
                <th scope="col">Own limit</th>
                <th scope="col">Requests per second</th>
                <th scope="col">Burst</th>
              </tr>
            </thead>
            <tbody>
              {CLASSES.map((c) => {
                const row = draft.classes[c.id];
                return (
                  <tr key={c.id}>
                    <th scope="row">{c.id}</th>
                    <td className="muted">{c.what}</td>
                    <td>
                      <label className="check">
                        <input type="checkbox" checked={row.own} onChange={(e) => setClass(c.id, { own: e.target.checked })} /> <span>{row.own ? 'own' : 'uses the default'}</span>
                        <span className="sr-only"> for {c.id}</span>
                      </label>
                    </td>
                    <td>
                      <input aria-label={`${c.id} requests per second`} inputMode="numeric" value={row.rps} disabled={!row.own} onChange={(e) => setClass(c.id, { rps: e.target.value })} className="short-input" />
                    </td>
                    <td>
                      <input aria-label={`${c.id} burst`} inputMode="numeric" value={row.burst} disabled={!row.own} onChange={(e) => setClass(c.id, { burst: e.target.value })} className="short-input" />
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
        <div className="actions form-actions">
          <span className="spacer" />
          <button type="button" className="button" onClick={limits.reload} disabled={save.busy || limits.loading}>
            Discard changes
          </button>
          <button type="submit" className="button primary" disabled={save.busy}>
            {save.busy ? 'Saving…' : 'Save rate limits'}
          </button>
        </div>
      </Panel>
    </form>
  );
}

// ---- profile ----------------------------------------------------------------------------------------

function Profile() {
  const { signOut } = useSession();
  const me = useApi<Me>('/api/v1/auth/me');
  if (me.data === undefined) return me.loading ? <Loading /> : <ErrorNote error={me.error} />;
  const m = me.data;
  const rows: [string, ReactNode][] = [
    ['Authentication', m.auth ? <Badge tone="good">on</Badge> : <Badge tone="warn">off: every request acts as the system admin</Badge>],
    ['Kind', m.kind === 'user' ? 'user (password sign-in)' : m.kind === 'key' ? 'API key' : m.kind === 'token' ? 'token from an outside issuer' : m.kind],
    ['Identity', <code key="id">{m.id}</code>],
    ['Subject', <code key="sub">{m.sub}</code>],
    ['Roles', m.roles.length === 0 ? <span className="muted">none</span> : <span className="badges">{m.roles.map((r) => <Badge key={r} tone="info">{r}</Badge>)}</span>],
    ['Administrator', m.admin ? 'yes (write on admin)' : 'no'],
    ['Session expires', m.expires_at === null ? <span className="muted">never (no session)</span> : formatTime(m.expires_at)],
  ];
  return (
    <div className="row">
      <Panel title="Who am I" actions={m.auth && <button type="button" className="button" onClick={signOut}>Sign out</button>}>
        <dl className="props">
          {rows.map(([k, v]) => (
            <div key={k}>
              <dt>{k}</dt>
              <dd>{v}</dd>
            </div>
          ))}
        </dl>
      </Panel>
      <Panel title="Claims">
        {Object.keys(m.claims).length === 0 ? <EmptyState title="No claims">Claims come with a user, an API key or an outside token; row-level policies read them.</EmptyState> : <JsonView value={m.claims} label="Claims" />}
      </Panel>
    </div>
  );
}

// ---- configuration ---------------------------------------------------------------------------------

type ConfigDump = { config: Record<string, unknown>; secrets: Record<string, string | null> };

function valueText(v: unknown): ReactNode {
  if (v === '' || v === null || v === undefined) return <span className="muted">(none)</span>;
  if (Array.isArray(v)) return v.length === 0 ? <span className="muted">(none)</span> : v.map((x) => (typeof x === 'string' ? x : JSON.stringify(x))).join(', ');
  if (typeof v === 'boolean') return v ? 'on' : 'off';
  if (typeof v === 'number') return formatNumber(v, 3);
  if (typeof v === 'object') return <code>{JSON.stringify(v)}</code>;
  return String(v);
}

function groupsOf(config: Record<string, unknown>): { name: string; entries: [string, unknown][] }[] {
  const top: [string, unknown][] = [];
  const groups: { name: string; entries: [string, unknown][] }[] = [];
  for (const [k, v] of Object.entries(config)) {
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) groups.push({ name: k, entries: Object.entries(v as Record<string, unknown>) });
    else top.push([k, v]);
  }
  return [{ name: 'server', entries: top }, ...groups];
}

function Config() {
  const config = useApi<ConfigDump>('/api/v1/admin/config');
  if (config.data === undefined) return config.loading ? <Loading label="Reading the configuration…" /> : <ErrorNote error={config.error} />;
  const { secrets } = config.data;
  return (
    <>
      <Panel title="Secrets">
        <p className="muted small-note">Secrets come from the environment or files; the server never sends them, only whether each is set.</p>
        <DataGrid
          caption="Secrets and whether each is set"
          columns={[
            { key: 'name', label: 'Variable', render: (r) => <code>{r[0]}</code> },
            { key: 'state', label: 'State', render: (r) => (r[1] === null ? <span className="muted">not set</span> : <Badge tone="good">set ({r[1]})</Badge>) },
          ]}
          rows={Object.entries(secrets)}
          rowKey={(r) => r[0]}
        />
      </Panel>
      <div className="config-groups">
        {groupsOf(config.data.config).map((g) => (
          <Panel key={g.name} title={`Configuration: ${g.name}`}>
            <dl className="props">
              {g.entries.map(([k, v]) => (
                <div key={k}>
                  <dt>
                    <code>{k}</code>
                  </dt>
                  <dd>{valueText(v)}</dd>
                </div>
              ))}
            </dl>
          </Panel>
        ))}
      </div>
    </>
  );
}
