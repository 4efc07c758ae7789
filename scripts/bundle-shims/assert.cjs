// Stand-in for node:assert inside the affinityd bundle, for sonic-boom's one argument check
// `assert(value, message)`: same outcome (throws when value is falsy), without loading
// node:assert, whose error class touches process.stderr and with it node's stream stack.
'use strict';
module.exports = function assert(value, message) {
  if (!value) throw new Error(message === undefined ? 'assertion failed' : String(message));
};
