// Stand-in for thread-stream inside the affinityd bundle: pino.transport() (log shipping from
// a worker thread) is the only user, and affinityd writes its log to fd 2 with
// pino.destination(). Should anyone call it, it fails loudly instead of half-working.
'use strict';
module.exports = class ThreadStream {
  constructor() {
    throw new Error('pino transports are not part of the affinityd executable');
  }
};
