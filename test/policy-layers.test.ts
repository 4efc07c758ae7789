// policy-layers tests — which files the loader reads and in what order, how sections and
// their headers are judged, and how layers, [defaults] and broken sections resolve into the
// Policy the planner gets (src/policy/policy.ts).

import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { policyFiles } from '../src/policy/policy.js';
import { errorOf, messageOf } from './helpers/policy-error.js';

const F = '/etc/affinityd/affinityd.ini';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'affd-policy-layers-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));


describe('files', () => {
  test('drop-ins are read in byte order of their names, whatever order the directory lists them in', () => {
    // Byte order: digits < upper case < '_' < lower case; a locale would put 'a' before 'B'.
    const names = ['01.ini', '1.ini', '10-x.ini', '9.ini', 'A.ini', 'B.ini', 'Z-late.ini', '_u.ini', 'a.ini', 'b-1.ini', 'b.ini', 'z.ini'];
    const dir = path.join(tmp, 'order/etc/affinityd/affinityd.d');
    fs.mkdirSync(dir, { recursive: true });
    // Created in a scrambled order, so that creation order cannot pass for sorting either.
    for (const i of [7, 2, 11, 0, 9, 4, 1, 10, 5, 3, 8, 6]) fs.writeFileSync(path.join(dir, names[i]!), `[agent]\nsettle-ms = ${i}\n`);
    assert.deepEqual(policyFiles({ root: path.join(tmp, 'order') }), names.map((n) => path.join(dir, n)));
  });

  test('the default root is /, never the working directory', () => {
    const cwd = path.join(tmp, 'cwd');
    fs.mkdirSync(path.join(cwd, 'etc/affinityd'), { recursive: true });
    fs.writeFileSync(path.join(cwd, 'etc/affinityd/affinityd.ini'), '[agent]\nsettle-ms = 1\n');
    const was = process.cwd();
    process.chdir(cwd);
    try {
      assert.deepEqual(policyFiles(), policyFiles({ root: '/' }));
    } finally {
      process.chdir(was);
    }
  });
});

describe('section headers', () => {
  test('empty labels name an example of their own kind', () => {
    assert.equal(messageOf('[serial:]\nmatch-path = /dev/ttyS0'), `${F}:1: [serial:]: empty label: write [serial:<label>], e.g. [serial:gps]`);
    assert.equal(messageOf('[net:]\nmatch-name = eth0'), `${F}:1: [net:]: empty label: write [net:<label>], e.g. [net:wan]`);
  });

  test('a header that starts with a colon is judged as a whole name', () => {
    assert.equal(messageOf('[:cpus]\ncpus = all'), `${F}:1: [:cpus]: unknown section (did you mean '[cpus]'?)`);
    assert.equal(messageOf('[xyz:wan]\nrps = on'), `${F}:1: [xyz:wan]: unknown section; known sections: [cpus], [defaults], [net], [agent], [metrics], [net:<label>], [irq:<label>], [serial:<label>]`);
  });
});
