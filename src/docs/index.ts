// The document store's router side (issue 11): the service the HTTP routes
// call, the change hub, and the transaction manager that publishes committed
// document changes.

export { DocService, type CollectionSummary, type DocServiceOptions } from './doc-service.js';
export { ChangeHub, type ChangeDelivery, type ChangeSubscriber } from './change-hub.js';
export { DocTxnManager } from './doc-txn-manager.js';
export { changeSource, type ChangeSource } from './change-source.js';
export { type PublishedChange } from './change-hub.js';
export {
  DocAccess,
  docAccess,
  andFilter,
  isMatchNothing,
  matchNothing,
  pipelineCollections,
  rlsCheckFilterFor,
  rlsFilterFor,
  rowPredicate,
  rowPredicateFor,
  type DocSecurity,
  type RowCommand,
} from './doc-rls.js';
