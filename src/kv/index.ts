export { KvService, mergeSorted, type BatchOutcome, type HeadResult, type ListResult } from './kv-service.js';
export * from './kv-input.js';
