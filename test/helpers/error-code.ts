// The code of the MantisError a piece of work throws ('none' when it throws nothing), for tests
// that check which refusal an input gets. Anything else it throws is rethrown.

import { MantisError } from '../../shared/errors.js';

export function codeOf(work: () => unknown): string {
  try {
    work();
  } catch (error) {
    if (error instanceof MantisError) return error.code;
    throw error;
  }
  return 'none';
}
