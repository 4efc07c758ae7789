// The PolicyError a policy text is refused with (policy test files share it).

import assert from 'node:assert/strict';
import { parsePolicy, PolicyError } from '../../src/policy/policy.js';

/** The error parsePolicy() refuses `text` with, read as file `file`; fails the test if it loads. */
export function errorOf(text: string, file = '/etc/affinityd/affinityd.ini'): PolicyError {
  try {
    parsePolicy(text, file);
  } catch (e) {
    assert.ok(e instanceof PolicyError, String(e));
    return e;
  }
  assert.fail(`expected a PolicyError for:\n${text}`);
}

export const messageOf = (text: string, file?: string): string => errorOf(text, file).message;
