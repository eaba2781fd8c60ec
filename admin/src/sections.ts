// The dashboard's sections, in navigation order. Each is its own chunk,
// loaded when first opened (the first paint loads only the shell).

import { lazy, type ComponentType, type LazyExoticComponent } from 'react';

export type SectionDef = {
  readonly id: string;
  readonly title: string;
  /** One line for the navigation's tooltip. */
  readonly blurb: string;
  readonly component: LazyExoticComponent<ComponentType>;
};

export const SECTIONS: readonly SectionDef[] = [
  { id: 'overview', title: 'Overview', blurb: 'Live throughput, latency, cache and shard health', component: lazy(() => import('./sections/Overview')) },
  { id: 'kv', title: 'Key-value', blurb: 'Browse, edit and expire keys', component: lazy(() => import('./sections/KeyValue')) },
  { id: 'cache', title: 'Cache', blurb: 'Hit rates, policies, dependencies and invalidations', component: lazy(() => import('./sections/Cache')) },
  { id: 'documents', title: 'Documents', blurb: 'Collections, indexes, queries and pipelines', component: lazy(() => import('./sections/Documents')) },
  { id: 'tables', title: 'Tables', blurb: 'Columnar tables, schemas, queries and CQL', component: lazy(() => import('./sections/Tables')) },
  { id: 'sql', title: 'SQL', blurb: 'Run SQL, see plans', component: lazy(() => import('./sections/Sql')) },
  { id: 'transactions', title: 'Transactions', blurb: 'Open transactions, commits, aborts and conflicts', component: lazy(() => import('./sections/Transactions')) },
  { id: 'storage', title: 'Storage', blurb: 'Data files, backups and the WAL archive', component: lazy(() => import('./sections/Storage')) },
  { id: 'api', title: 'API docs', blurb: 'The OpenAPI description with a try-it-out console', component: lazy(() => import('./sections/ApiDocs')) },
  { id: 'settings', title: 'Settings', blurb: 'Alert rules, rate limits, profile and configuration', component: lazy(() => import('./sections/Settings')) },
  { id: 'auth', title: 'Auth', blurb: 'Users, API keys, roles and row-level policies', component: lazy(() => import('./sections/Auth')) },
];

export const sectionById = (id: string): SectionDef | undefined => SECTIONS.find((s) => s.id === id);
