// A change-stream subscription as a client asks for it (WebSocket message or
// SSE query): the collection name, a filter over the change event (relaxed
// EJSON, MongoDB query language) and an optional resume token, checked and
// turned into a hub subscription. With security (auth on) and the
// subscriber's principal, the subscription needs `docs:<c>` read and gets the
// row predicate of the collection's select policies (doc-rls.ts): it is
// handed only the events about documents the principal may see.

import { MantisError } from '../../shared/errors.js';
import { isDoc } from '../../shared/docs/bson-types.js';
import { checkCollectionName } from '../../shared/docs/doc-validate.js';
import { fromEjson } from '../../shared/docs/ejson.js';
import { compileFilter } from '../../shared/docs/filter.js';
import type { Principal } from '../security/principal.js';
import type { ChangeHub, ChangeSubscriber } from './change-hub.js';
import { DocAccess, rowPredicateFor, type DocSecurity } from './doc-rls.js';

export type ChangeSource = {
  /**
   * Subscribes; `filter` is the parsed JSON value (or null for none). Throws a MantisError for a
   * bad collection name, filter or token, and FORBIDDEN without `docs:<coll>` read (when the
   * source has security and a principal is given; undefined: the system). Kept events after the
   * token are delivered before this returns. Returns the unsubscribe function.
   */
  subscribe(coll: string, filter: unknown, resumeAfter: string | null, deliver: ChangeSubscriber, principal?: Principal): () => void;
};

export function changeSource(hub: ChangeHub, security?: DocSecurity): ChangeSource {
  return {
    subscribe: (coll, filter, resumeAfter, deliver, principal) => {
      checkCollectionName(coll);
      let match = null;
      if (filter !== null && filter !== undefined) {
        const doc = fromEjson(filter);
        if (!isDoc(doc)) throw new MantisError('INVALID_PARAMETER', '"filter" must be an object: a query over the change event');
        if (Object.keys(doc).length > 0) match = compileFilter(doc);
      }
      if (resumeAfter !== null && typeof resumeAfter !== 'string') throw new MantisError('INVALID_PARAMETER', '"resume_after" must be a resume token (a change event\'s _id)');
      let rows = null;
      if (security !== undefined && principal !== undefined) {
        new DocAccess(security.store, principal).require(coll, 'read');
        if (!principal.bypassRls) rows = rowPredicateFor(security.store, principal, coll);
      }
      return hub.subscribe(coll, match, resumeAfter, deliver, rows);
    },
  };
}
