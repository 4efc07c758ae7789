// text/iso-time: the same text as Date.prototype.toISOString() for every date, so that the
// agent's state and audit lines read exactly as before it stopped calling toISOString().

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isoTime } from '../src/text/iso-time.js';

describe('isoTime', () => {
  it('is toISOString() for every valid date, ±YYYYYY years included', () => {
    // fc.date() spans the whole Date range (±8.64e15 ms), so both branches are drawn.
    fc.assert(
      fc.property(fc.date({ noInvalidDate: true }), (d) => {
        assert.equal(isoTime(d), d.toISOString());
      }),
      { numRuns: 5000 },
    );
  });

  it('is toISOString() around the edges of the four-digit years and of a day', () => {
    for (const ms of [Date.UTC(0, 0, 1) - 1, Date.UTC(0, 0, 1), Date.UTC(9999, 11, 31, 23, 59, 59, 999), Date.UTC(9999, 11, 31, 23, 59, 59, 999) + 1, 0, -1, 1, Date.UTC(2026, 11, 1, 22, 15, 28, 7)]) {
      const d = new Date(ms);
      assert.equal(isoTime(d), d.toISOString(), `at ${ms} ms`);
    }
    // Date.UTC(0, …) means 1900; year 0 is set explicitly.
    const y0 = new Date(0);
    y0.setUTCFullYear(0, 0, 1);
    assert.equal(isoTime(y0), '0000-01-01T00:00:00.000Z');
  });

  it('throws the RangeError toISOString() throws for an invalid date', () => {
    assert.throws(() => isoTime(new Date(NaN)), RangeError);
  });
});
