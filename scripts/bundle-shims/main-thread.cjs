// Stand-in for node:worker_threads inside the affinityd bundle, for pino/lib/tools.js, which
// reads only `isMainThread` (to register its flush-on-exit hook). affinityd never runs pino in
// a worker thread, so the answer is always true. See scripts/bundle-cli.mjs for why.
'use strict';
exports.isMainThread = true;
