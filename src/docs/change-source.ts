// A change-stream subscription as a client asks for it (WebSocket message or
// SSE query): the collection name, a filter over the change event (relaxed
// EJSON, MongoDB query language) and an optional resume token, checked and
// turned into a hub subscription.

import { MantisError } from '../../shared/errors.js';
import { isDoc } from '../../shared/docs/bson-types.js';
import { checkCollectionName } from '../../shared/docs/doc-validate.js';
import { fromEjson } from '../../shared/docs/ejson.js';
import { compileFilter } from '../../shared/docs/filter.js';
import type { ChangeHub, ChangeSubscriber } from './change-hub.js';

export type ChangeSource = {
  /**
   * Subscribes; `filter` is the parsed JSON value (or null for none). Throws a MantisError for a
   * bad collection name, filter or token. Kept events after the token are delivered before this
   * returns. Returns the unsubscribe function.
   */
  subscribe(coll: string, filter: unknown, resumeAfter: string | null, deliver: ChangeSubscriber): () => void;
};

export function changeSource(hub: ChangeHub): ChangeSource {
  return {
    subscribe: (coll, filter, resumeAfter, deliver) => {
      checkCollectionName(coll);
      let match = null;
      if (filter !== null && filter !== undefined) {
        const doc = fromEjson(filter);
        if (!isDoc(doc)) throw new MantisError('INVALID_PARAMETER', '"filter" must be an object: a query over the change event');
        if (Object.keys(doc).length > 0) match = compileFilter(doc);
      }
      if (resumeAfter !== null && typeof resumeAfter !== 'string') throw new MantisError('INVALID_PARAMETER', '"resume_after" must be a resume token (a change event\'s _id)');
      return hub.subscribe(coll, match, resumeAfter, deliver);
    },
  };
}
