// The load harness's reading of the server's Prometheus text: series summed
// over labels, counter deltas, and the histogram bucket holding a quantile.

import { describe, expect, it } from 'vitest';
import { parsePrometheus, serverView } from '../../stress/lib/server-metrics.js';

function text(fast: number, slow: number, flushes: number): string {
  const bucket = (le: string, n: number, route: string): string => `mantis_http_request_duration_seconds_bucket{le="${le}",route="${route}"} ${n}`;
  return [
    '# HELP mantis_lsm_flushes_total flushes',
    `mantis_lsm_flushes_total{shard="0"} ${flushes}`,
    `mantis_lsm_flushes_total{shard="1"} ${flushes}`,
    bucket('0.001', fast, '/a'),
    bucket('0.01', fast + slow, '/a'),
    bucket('+Inf', fast + slow, '/a'),
    bucket('0.001', 0, '/b'),
    bucket('0.01', 0, '/b'),
    bucket('+Inf', 0, '/b'),
  ].join('\n');
}

describe('server metrics', () => {
  it('sums series over labels', () => {
    const scrape = parsePrometheus(text(5, 1, 3));
    expect(scrape.get('mantis_lsm_flushes_total')).toBe(6);
    expect(scrape.get('mantis_http_request_duration_seconds_bucket|+Inf')).toBe(6);
  });

  it('gives counter deltas and the bucket bounds of the quantiles between two scrapes', () => {
    const view = serverView(parsePrometheus(text(10, 0, 1)), parsePrometheus(text(1000, 5, 4)));
    expect(view).toMatchObject({ flushes: 6, httpRequests: 995, httpP50UpperMs: 1, httpP99UpperMs: 1, httpP999UpperMs: 10 });
    expect(serverView(null, parsePrometheus(''))).toBeNull();
  });

  it('counts the requests the server shed, over every reason', () => {
    const shed = (lag: number, inFlight: number): string =>
      [`mantis_http_shed_total{reason="in_flight"} ${inFlight}`, `mantis_http_shed_total{reason="event_loop_lag"} ${lag}`, 'mantis_http_shed_total{reason="shard_queue"} 0'].join('\n');
    expect(serverView(parsePrometheus(shed(1, 2)), parsePrometheus(shed(11, 32)))?.shed).toBe(40);
    expect(serverView(parsePrometheus(''), parsePrometheus(''))?.shed, 'a server without the counter').toBe(0);
  });
});
