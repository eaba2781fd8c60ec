// Worker thread for toYamlOffThread (openapi-yaml.ts): JSON text in, YAML text out.

import { parentPort, workerData } from 'node:worker_threads';
import { toYaml } from './openapi-yaml.js';

parentPort?.postMessage(toYaml(JSON.parse(workerData as string)));
