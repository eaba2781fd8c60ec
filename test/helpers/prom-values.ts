// Reading one series out of a prom-client Registry in tests.

import type { Registry } from 'prom-client';

/** The value of the series `name` whose labels include `labels`; 0 when absent. Histograms: pass name_count / name_sum. */
export async function metricValue(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const family = name.replace(/_(count|sum|bucket)$/, '');
  const metric = registry.getSingleMetric(family) ?? registry.getSingleMetric(name);
  if (metric === undefined) throw new Error(`metric ${name} is not registered`);
  const { values } = await metric.get();
  const match = values.find(
    (v) => ('metricName' in v ? v.metricName ?? family : family) === name && Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want),
  );
  return match?.value ?? 0;
}
