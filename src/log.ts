// The router's logger (pino, JSON lines on stdout).

import pino, { type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string): Logger {
  return pino({ level, base: { thread: 'router' } });
}
