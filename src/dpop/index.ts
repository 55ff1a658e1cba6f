export type { DpopKeyStore, ProofSigner, SendFunction, TokenBinder } from '../auth/binder.js';
export type { DpopOptions } from '../options.js';
export { createDpop } from './create-dpop.js';
export { DPoPError, type DPoPErrorReason, isDPoPError } from './errors.js';
export { indexedDbKeyStore, type KeyStoreApis } from './key-store.js';
