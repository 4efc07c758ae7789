import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { CpuFormatError, formatCpuList, formatCpuMask, parseCpuList, parseCpuMask, MAX_CPUS } from '../src/cpumask/cpumask.js';

const cpuSet = fc.uniqueArray(fc.integer({ min: 0, max: MAX_CPUS - 1 }), { maxLength: 300 }).map((a) => a.sort((x, y) => x - y));

test('cpulist: kernel forms', () => {
  assert.deepEqual(parseCpuList('0-3,8,10-11'), [0, 1, 2, 3, 8, 10, 11]);
  assert.deepEqual(parseCpuList(''), []);
  assert.deepEqual(parseCpuList(' 5 \n'), [5]);
  assert.deepEqual(parseCpuList('0-7:2/4'), [0, 1, 4, 5]);
  assert.equal(formatCpuList([0, 1, 2, 3, 8, 10, 11]), '0-3,8,10-11');
  assert.equal(formatCpuList([]), '');
});

test('cpumask: kernel forms', () => {
  assert.deepEqual(parseCpuMask('3'), [0, 1]);
  assert.deepEqual(parseCpuMask('00000000,00000003'), [0, 1]);
  assert.deepEqual(parseCpuMask('ff,00000001'), [0, 32, 33, 34, 35, 36, 37, 38, 39]);
  assert.deepEqual(parseCpuMask('0'), []);
  assert.deepEqual(parseCpuMask('00ff00ff'), [0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23]);
  assert.equal(formatCpuMask([0, 1], 2), '3');
  assert.equal(formatCpuMask([0, 1], 64), '00000000,00000003');
  assert.equal(formatCpuMask([], 2), '0');
  assert.equal(formatCpuMask([1023], 1024).split(',').length, 32);
  assert.equal(formatCpuMask([8191], 8192).split(',')[0], '80000000');
});

test('errors name the bad element', () => {
  assert.throws(() => parseCpuList('0-3,x'), (e: Error) => e instanceof CpuFormatError && /"x"/.test(e.message));
  assert.throws(() => parseCpuList('5-2'), /descending/);
  assert.throws(() => parseCpuList('8192'), /out of range/);
  assert.throws(() => parseCpuList('0-3', 4) && parseCpuList('4', 4), /out of range \(max 3\)/);
  assert.throws(() => parseCpuMask('zz'), /invalid hex mask word "zz"/);
  assert.throws(() => parseCpuMask('123456789'), /invalid hex mask word/);
});

test('property: cpulist round-trips', () => {
  fc.assert(fc.property(cpuSet, (cpus) => assert.deepEqual(parseCpuList(formatCpuList(cpus)), cpus)));
});

test('property: hex mask round-trips at any width', () => {
  fc.assert(
    fc.property(cpuSet, fc.integer({ min: 1, max: MAX_CPUS }), (cpus, width) => {
      const w = Math.max(width, (cpus[cpus.length - 1] ?? 0) + 1);
      const text = formatCpuMask(cpus, w);
      assert.equal(text.split(',').length, Math.ceil(w / 32));
      assert.deepEqual(parseCpuMask(text), cpus);
    }),
  );
});
