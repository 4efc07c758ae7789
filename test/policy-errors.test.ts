// policy-errors tests — the loader's text helpers and its error list: what scanIni makes of
// bare words and quoted values, which key a typo is taken for, how many problems one load
// keeps, and the shape of a PolicyError thrown alone.

import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadPolicy, parsePolicy, PolicyError } from '../src/policy/policy.js';
import { MAX_POLICY_ERRORS } from '../src/policy/errors.js';
import { scanIni } from '../src/policy/scan.js';
import { errorOf, messageOf } from './helpers/policy-error.js';

const F = '/etc/affinityd/affinityd.ini';


const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'affd-policy-errors-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));
let n = 0;
/** A root holding `files` (paths relative to it). */
function tmpRoot(files: Record<string, string>): string {
  const root = path.join(tmp, String(n++));
  fs.mkdirSync(root);
  for (const [rel, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    fs.writeFileSync(path.join(root, rel), text);
  }
  return root;
}

describe('scan, suggestions and the error list', () => {
  test('scanIni: a bare word is a key without a value; a single-quoted value stays text', () => {
    assert.deepEqual(scanIni('[agent]\nsettle-ms'), [
      { type: 'section', name: 'agent', line: 1 },
      { type: 'key', key: 'settle-ms', value: '', line: 2, bare: true },
    ]);
    // ini.unsafe JSON-parses '123' and 'true' into a number and a boolean.
    for (const [line, value] of [["k = '123'", '123'], ["k =   'true'  ", 'true'], ['k = "123"', '123'], ["k = 'a;b'", 'a;b']]) {
      assert.deepEqual(scanIni(line!), [{ type: 'key', key: 'k', value, line: 1, bare: false }], line);
    }
    assert.equal(parsePolicy("[agent]\nsettle-ms = '50'", F).agent.settleMs, 50);
  });

  test('scanIni: a header is the whole line, a comment may follow it, its name is trimmed; a BOM only leads', () => {
    const header = (line: string) => scanIni(line)[0];
    assert.deepEqual(header('[ net:wan ]'), { type: 'section', name: 'net:wan', line: 1 });
    assert.deepEqual(header('[agent];note'), { type: 'section', name: 'agent', line: 1 });
    assert.deepEqual(header('[agent] # note'), { type: 'section', name: 'agent', line: 1 });
    for (const bad of ['[agent]x', '[agent] x', '[a]x[b]']) {
      assert.deepEqual(header(bad), { type: 'bad', line: 1, why: `malformed section header '${bad}': expected '[name]'` }, bad);
    }
    // U+FEFF inside the text is a character like any other (trim() does drop it at a line's ends).
    for (const bom of ['\uFEFF', '']) {
      assert.deepEqual(scanIni(`${bom}[agent]\nk = a\uFEFFb`), [
        { type: 'section', name: 'agent', line: 1 },
        { type: 'key', key: 'k', value: 'a\uFEFFb', line: 2, bare: false },
      ]);
    }
  });

  test('suggestions: the first of equally close keys; a prefix of three characters or more', () => {
    // "ps" is one edit from both rps and xps: the table's first, rps.
    assert.equal(messageOf('[defaults]\nps = on'), `${F}:2: [defaults] ps: unknown key (did you mean 'rps'?)`);
    assert.equal(messageOf('[agent]\nset = 1'), `${F}:2: [agent] set: unknown key (did you mean 'settle-ms'?)`);
    assert.equal(messageOf('[agent]\nse = 1'), `${F}:2: [agent] se: unknown key; valid here: settle-ms, resync-interval, state-file`);
  });

  test(`at most ${MAX_POLICY_ERRORS} problems are kept; the rest are counted per file`, () => {
    const bad = (n: number) => ['[cpus]', ...Array.from({ length: n }, (_, i) => `bad line ${i}`)].join('\n');
    const root = tmpRoot({ 'etc/affinityd/affinityd.ini': bad(MAX_POLICY_ERRORS + 2), 'etc/affinityd/affinityd.d/1.ini': bad(3) });
    const main = path.join(root, 'etc/affinityd/affinityd.ini');
    const drop = path.join(root, 'etc/affinityd/affinityd.d/1.ini');
    assert.throws(
      () => loadPolicy({ root }),
      (e: unknown) => {
        assert.ok(e instanceof PolicyError);
        assert.equal(e.errors.length, MAX_POLICY_ERRORS + 2);
        assert.deepEqual(e.errors.slice(0, MAX_POLICY_ERRORS).map((x) => x.line), Array.from({ length: MAX_POLICY_ERRORS }, (_, i) => i + 2));
        assert.deepEqual(e.errors.slice(MAX_POLICY_ERRORS).map((x) => x.message), [
          `${main}: 2 more problem(s) not listed (only the first ${MAX_POLICY_ERRORS} are)`,
          `${drop}: 3 more problem(s) not listed (only the first ${MAX_POLICY_ERRORS} are)`,
        ]);
        return true;
      },
    );
    assert.equal(errorOf(bad(MAX_POLICY_ERRORS)).errors.length, MAX_POLICY_ERRORS, 'exactly the bound: nothing left out');
  });

  test('PolicyError: named, carries itself as its only problem; collect needs one', () => {
    const missing = path.join(tmpRoot({}), 'nope.ini');
    assert.throws(() => loadPolicy({ configFile: missing }), (e: unknown) => {
      assert.ok(e instanceof PolicyError);
      assert.equal(String(e), `PolicyError: ${missing}: cannot read policy file: no such file`);
      assert.deepEqual(e.errors, [e]);
      return true;
    });
    assert.throws(() => PolicyError.collect([]), (e: unknown) => e instanceof RangeError && e.message === 'PolicyError.collect needs at least one error');
  });
});
