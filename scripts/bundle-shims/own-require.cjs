// Stand-in for node:module inside the affinityd bundle, for our sources' one use of it:
// createRequire(import.meta.url). The bundle is one CommonJS file and import.meta.url is that
// file's URL, so the require() it would build is the bundle's own. node:module itself loads
// node's ES module loader (scripts/bundle-cli.mjs says why that matters).
'use strict';
exports.createRequire = () => require;
