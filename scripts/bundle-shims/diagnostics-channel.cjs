// Stand-in for node:diagnostics_channel inside the affinityd bundle, for pino/lib/tools.js:
// it creates one tracing channel and calls traceSync() only when the channel has subscribers.
// Nothing in affinityd subscribes, so the channel never has any.
'use strict';
exports.tracingChannel = () => ({ hasSubscribers: false });
