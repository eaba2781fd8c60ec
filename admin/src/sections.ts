// The dashboard's sections, in navigation order. Each is its own chunk,
// loaded when first opened (the first paint loads only the shell).

import { lazy, type ComponentType, type LazyExoticComponent } from 'react';

export type SectionDef = {
  readonly id: string;
  readonly title: string;
  /** One line for the navigation's tooltip. */
  readonly blurb: string;
  readonly component: LazyExoticComponent<ComponentType>;
  /** Starts loading the section's chunk (the browser keeps the one module). */
  readonly preload: () => Promise<unknown>;
};

function section(id: string, title: string, blurb: string, load: () => Promise<{ default: ComponentType }>): SectionDef {
  return { id, title, blurb, component: lazy(load), preload: load };
}

export const SECTIONS: readonly SectionDef[] = [
  section('overview', 'Overview', 'Live throughput, latency, cache and shard health', () => import('./sections/Overview')),
  section('kv', 'Key-value', 'Browse, edit and expire keys', () => import('./sections/KeyValue')),
  section('cache', 'Cache', 'Hit rates, policies, dependencies and invalidations', () => import('./sections/Cache')),
  section('documents', 'Documents', 'Collections, indexes, queries and pipelines', () => import('./sections/Documents')),
  section('tables', 'Tables', 'Columnar tables, schemas, queries and CQL', () => import('./sections/Tables')),
  section('sql', 'SQL', 'Run SQL, see plans', () => import('./sections/Sql')),
  section('transactions', 'Transactions', 'Open transactions, commits, aborts and conflicts', () => import('./sections/Transactions')),
  section('storage', 'Storage', 'Data files, backups and the WAL archive', () => import('./sections/Storage')),
  section('api', 'API docs', 'The OpenAPI description with a try-it-out console', () => import('./sections/ApiDocs')),
  section('settings', 'Settings', 'Alert rules, rate limits, profile and configuration', () => import('./sections/Settings')),
  section('auth', 'Auth', 'Users, API keys, roles and row-level policies', () => import('./sections/Auth')),
];

export const sectionById = (id: string): SectionDef | undefined => SECTIONS.find((s) => s.id === id);
