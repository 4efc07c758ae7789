// text/iso-time: the same text as Date.prototype.toISOString() for every date, so that the
// agent's state and audit lines read exactly as before it stopped calling toISOString().

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isoTime } from '../src/text/iso-time.js';

const SRC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src');

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

  it('never calls toISOString() for the years 0 to 9999 (that call is what it is there to avoid)', () => {
    const real = Date.prototype.toISOString;
    const fourDigits = fc.date({ min: new Date('0000-01-01T00:00:00.000Z'), max: new Date('9999-12-31T23:59:59.999Z'), noInvalidDate: true });
    const cases = [...fc.sample(fourDigits, 2000), new Date('0000-01-01T00:00:00.000Z'), new Date('9999-12-31T23:59:59.999Z')].map((d) => ({ d, text: real.call(d) }));
    Date.prototype.toISOString = () => {
      throw new Error('toISOString() called');
    };
    try {
      for (const { d, text } of cases) assert.equal(isoTime(d), text);
    } finally {
      Date.prototype.toISOString = real;
    }
  });

  it('throws the RangeError toISOString() throws for an invalid date', () => {
    assert.throws(() => isoTime(new Date(NaN)), RangeError);
  });

  it('is the only way src/ turns a Date into ISO text (toISOString() and toJSON() load ICU time zone names)', () => {
    const files = (fs.readdirSync(SRC, { recursive: true }) as string[]).filter((f) => f.endsWith('.ts') && f !== path.join('text', 'iso-time.ts'));
    const calls = files.flatMap((f) =>
      fs
        .readFileSync(path.join(SRC, f), 'utf8')
        .split('\n')
        .flatMap((line, i) => (/\.(toISOString|toJSON)\(/.test(line.replace(/\/\/.*$/, '')) ? [`src/${f}:${i + 1}: ${line.trim()}`] : [])),
    );
    assert.deepEqual(calls, []);
  });
});
