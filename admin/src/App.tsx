// The shell: sign-in, navigation, the current section, toasts and dialogs.

import { Suspense, useCallback, useEffect, useState, type FormEvent } from 'react';
import { api, ApiError, credential, setUnauthorizedHandler } from './api';
import { ConfirmHost, Field, Loading, Tabs, ToastHost, ViewBoundary } from './components';
import { useAction, useApi } from './hooks';
import { navigate, useLocation } from './router';
import { SECTIONS, sectionById } from './sections';
import { SessionContext, type Me } from './session';
import { notify } from './toast';

type Phase = { kind: 'checking' } | { kind: 'signed-out'; reason?: string } | { kind: 'signed-in'; me: Me };

export function App() {
  const [phase, setPhase] = useState<Phase>({ kind: 'checking' });
  const check = useCallback(() => {
    api.get<Me>('/api/v1/auth/me').then(
      (answer) => setPhase({ kind: 'signed-in', me: answer.data }),
      (error: unknown) => {
        if (error instanceof ApiError && (error.status === 401 || error.status === 403)) {
          // A credential the server refused (a wrong API key, an expired session): say so and drop it.
          if (credential.get() !== null) {
            notify.error(error);
            credential.set(null);
          }
          setPhase({ kind: 'signed-out' });
        }
        else {
          notify.error(error);
          setPhase({ kind: 'signed-out', reason: error instanceof Error ? error.message : String(error) });
        }
      },
    );
  }, []);
  useEffect(() => {
    check();
    setUnauthorizedHandler(() => setPhase((p) => (p.kind === 'signed-in' && p.me.auth ? { kind: 'signed-out', reason: 'Your session ended; sign in again.' } : p)));
    return () => setUnauthorizedHandler(null);
  }, [check]);
  const signOut = useCallback(() => {
    void api.post('/api/v1/auth/logout').catch(() => undefined).finally(() => {
      credential.set(null);
      setPhase({ kind: 'signed-out' });
    });
  }, []);

  return (
    <>
      {phase.kind === 'checking' && (
        <main className="center">
          <Loading label="Connecting to the server…" />
        </main>
      )}
      {phase.kind === 'signed-out' && <SignIn reason={phase.reason} onSignedIn={check} />}
      {phase.kind === 'signed-in' && (
        <SessionContext.Provider value={{ me: phase.me, signOut }}>
          <Shell me={phase.me} signOut={signOut} />
        </SessionContext.Provider>
      )}
      <ToastHost />
      <ConfirmHost />
    </>
  );
}

function SignIn({ reason, onSignedIn }: { reason?: string; onSignedIn: () => void }) {
  const [mode, setMode] = useState<'password' | 'key'>('password');
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [key, setKey] = useState('');
  const action = useAction();
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (mode === 'key') {
      credential.set(key.trim());
      onSignedIn();
      return;
    }
    const answer = await action.run(() => api.post<{ token: string }>('/api/v1/auth/login', { username, password }));
    if (answer !== undefined) {
      credential.set(answer.data.token);
      onSignedIn();
    }
  };
  return (
    <main className="center">
      <form className="signin panel" onSubmit={(e) => void submit(e)} aria-labelledby="signin-title">
        <div className="brand big">
          <Logo /> MantisDB
        </div>
        <h1 id="signin-title">Sign in</h1>
        {reason !== undefined && <p className="muted">{reason}</p>}
        <Tabs
          label="Sign-in method"
          tabs={[
            { id: 'password', label: 'Password' },
            { id: 'key', label: 'API key' },
          ]}
          value={mode}
          onChange={setMode}
        />
        {mode === 'password' ? (
          <>
            <Field label="Username">
              <input name="username" autoComplete="username" value={username} onChange={(e) => setUsername(e.target.value)} required />
            </Field>
            <Field label="Password">
              <input name="password" type="password" autoComplete="current-password" value={password} onChange={(e) => setPassword(e.target.value)} required />
            </Field>
          </>
        ) : (
          <Field label="API key" hint="An mk_… key from POST /api/v1/auth/keys; kept for this browser tab only.">
            <input name="api-key" value={key} onChange={(e) => setKey(e.target.value)} required autoComplete="off" />
          </Field>
        )}
        <button type="submit" className="button primary" disabled={action.busy}>
          {action.busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}

function Logo() {
  return (
    <svg viewBox="0 0 32 32" width="22" height="22" aria-hidden="true">
      <rect width="32" height="32" rx="7" fill="#16a34a" />
      <path d="M9 23V9l7 8 7-8v14" stroke="white" strokeWidth="3" fill="none" strokeLinejoin="round" />
    </svg>
  );
}

type Ready = { ready: boolean; shards: { id: number; state: string }[] };

function Shell({ me, signOut }: { me: Me; signOut: () => void }) {
  const location = useLocation();
  const section = sectionById(location.section);
  useEffect(() => {
    if (section === undefined) navigate('/overview', true);
  }, [section]);
  useEffect(() => {
    document.title = section === undefined ? 'MantisDB' : `${section.title} · MantisDB`;
  }, [section]);
  const health = useApi<Ready>('/health/ready', { refreshMs: 5000, toast: false });
  const shards = health.data?.shards;
  const ready = health.data?.ready === true;
  const Current = section?.component;
  return (
    <div className="layout">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <nav className="sidebar" aria-label="Sections">
        <div className="brand">
          <Logo /> MantisDB
        </div>
        <ul>
          {SECTIONS.map((s) => (
            <li key={s.id}>
              <a
                href={`/admin/${s.id}`}
                title={s.blurb}
                aria-current={s.id === section?.id ? 'page' : undefined}
                onClick={(e) => {
                  if (e.metaKey || e.ctrlKey || e.shiftKey || e.button !== 0) return;
                  e.preventDefault();
                  navigate(`/${s.id}`);
                }}
              >
                {s.title}
              </a>
            </li>
          ))}
        </ul>
        <div className="sidebar-foot">
          <span className={`dot ${health.loading && health.data === undefined ? '' : ready ? 'good' : 'bad'}`} aria-hidden="true" />
          <span>{health.data === undefined && health.error === undefined ? 'Checking health…' : ready ? `${shards?.length ?? 0} ${shards?.length === 1 ? 'shard' : 'shards'} ready` : 'Not ready'}</span>
        </div>
      </nav>
      <div className="main-col">
        <header className="topbar">
          <div className="muted">{me.auth ? 'Signed in as' : 'Auth is off: every request acts as'}</div>
          <strong>{me.kind === 'user' ? me.id : me.sub}</strong>
          <span className="muted">({me.roles.join(', ') || 'no roles'})</span>
          {me.auth && (
            <button type="button" className="button small" onClick={signOut}>
              Sign out
            </button>
          )}
        </header>
        <main id="main" tabIndex={-1}>
          {Current !== undefined && (
            <ViewBoundary key={location.section} resetKey={location.params.toString()} name={section?.title ?? 'This section'}>
              <Suspense fallback={<Loading label="Loading section…" />}>
                <Current key={section?.id} />
              </Suspense>
            </ViewBoundary>
          )}
        </main>
      </div>
    </div>
  );
}
