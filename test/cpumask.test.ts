import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { CpuFormatError, equalSets, formatCpuList, formatCpuMask, intersect, isSorted, normalize, parseCpuList, parseCpuMask, subtract, union, MAX_CPUS, MAX_CPU_TEXT } from '../src/cpumask/cpumask.js';

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

test('cpulist strides: used CPUs of every group, cut at the end of the range', () => {
  assert.deepEqual(parseCpuList('0-9:3/4'), [0, 1, 2, 4, 5, 6, 8, 9], 'the last group is cut at 9');
  assert.deepEqual(parseCpuList('0-9:3/4,20'), [0, 1, 2, 4, 5, 6, 8, 9, 20], 'cut at 9 also when a later element reaches further');
  assert.throws(() => parseCpuList('0-3:0/0'), /invalid stride/);
  assert.throws(() => parseCpuList('x5'), /invalid cpulist element "x5"/);
  assert.throws(() => parseCpuList('5x'), /invalid cpulist element "5x"/);
  assert.deepEqual(parseCpuList(' \n'), []);
  assert.deepEqual(parseCpuList('0-4:1/4'), [0, 4], 'a group that starts on the last CPU');
  assert.deepEqual(parseCpuList('0-4:2/4'), [0, 1, 4]);
  assert.deepEqual(parseCpuList('0-3:2/2'), [0, 1, 2, 3], 'used == group is the whole range');
  assert.deepEqual(parseCpuList('0-40:10/16'), [...Array(10).keys(), ...Array.from({ length: 10 }, (_, i) => 16 + i), 32, 33, 34, 35, 36, 37, 38, 39, 40]);
  assert.deepEqual(parseCpuList('2,0-1'), [0, 1, 2], 'sorted whatever the order');
  assert.deepEqual(parseCpuList('1, 1 ,1'), [1], 'repeated elements, with spaces');
  assert.throws(() => parseCpuList('0-3:1/0'), (e: Error) => e instanceof CpuFormatError && /invalid stride "0-3:1\/0" in cpulist "0-3:1\/0"/.test(e.message));
  assert.throws(() => parseCpuList('0-3:3/2'), /invalid stride "0-3:3\/2"/);
  assert.throws(() => parseCpuList('4', 4), /CPU 4 out of range \(max 3\) in cpulist "4"/);
  assert.throws(() => parseCpuList('0-4', 4), /CPU 4 out of range/);
  assert.deepEqual(parseCpuList('3', 4), [3]);
});

test('CpuFormatError says what it is; over-long text is refused before parsing', () => {
  assert.equal(new CpuFormatError('x').name, 'CpuFormatError');
  const long = '1,'.repeat(MAX_CPU_TEXT / 2) + '1';
  assert.throws(() => parseCpuList(long), (e: Error) => e instanceof CpuFormatError && new RegExp(`cpulist of ${long.length} characters .* \\(max ${MAX_CPU_TEXT}\\)`).test(e.message));
  assert.throws(() => parseCpuMask('f'.repeat(MAX_CPU_TEXT + 1)), /mask of \d+ characters/);
  // The limit itself is accepted; the message counts the text without surrounding blanks.
  assert.deepEqual(parseCpuList(' '.repeat(MAX_CPU_TEXT - 1) + '5'), [5]);
  assert.deepEqual(parseCpuMask(' '.repeat(MAX_CPU_TEXT - 1) + '3'), [0, 1]);
  assert.throws(() => parseCpuList(long + '  '), new RegExp(`cpulist of ${long.length} characters`));
  assert.throws(() => parseCpuMask('f'.repeat(MAX_CPU_TEXT) + '  '), new RegExp(`mask of ${MAX_CPU_TEXT} characters`));
});

test('cpumask: whitespace, bounds and widths', () => {
  assert.deepEqual(parseCpuMask(''), []);
  assert.deepEqual(parseCpuMask(' \n'), []);
  assert.deepEqual(parseCpuMask(' 3\n'), [0, 1]);
  assert.deepEqual(parseCpuMask('1 , 3'), [0, 1, 32], 'spaces around words');
  assert.deepEqual(parseCpuMask('3', 2), [0, 1], 'CPU maxCpus-1 is in range');
  assert.throws(() => parseCpuMask('4', 2), (e: Error) => e instanceof CpuFormatError && e.message === 'CPU 2 out of range (max 1) in mask "4"');
  assert.equal(formatCpuMask([]), '0');
  assert.equal(formatCpuMask([], 64), '00000000,00000000');
  assert.equal(formatCpuMask([0]), '1');
  assert.equal(formatCpuMask([4]), '10', 'as wide as the highest CPU needs');
  assert.equal(formatCpuMask([40, 1]), '100,00000002', 'unsorted input, two words');
  assert.equal(formatCpuMask([31]), '80000000');
  assert.equal(formatCpuMask([32]), '1,00000000');
});

test('cpulist formatting of unsorted and repeated input', () => {
  assert.equal(formatCpuList([3, 1, 2, 2]), '1-3');
  assert.equal(formatCpuList([5, 7]), '5,7');
  assert.equal(formatCpuList([9]), '9');
});

test('set helpers', () => {
  assert.equal(isSorted([]), true);
  assert.equal(isSorted([1, 2, 5]), true);
  assert.equal(isSorted([1, 1]), false, 'a repeat is not a set');
  assert.equal(isSorted([2, 1]), false);
  assert.equal(isSorted([1, 3, 2]), false);
  assert.equal(equalSets([1, 2], [1, 2]), true);
  assert.equal(equalSets([1, 2], [1, 3]), false);
  assert.equal(equalSets([1, 2], [0, 2]), false);
  assert.equal(equalSets([1], [1, 2]), false);
  assert.equal(equalSets([], []), true);
  assert.deepEqual(union([3, 1], [2, 1]), [1, 2, 3]);
  assert.deepEqual(intersect([1, 2, 3], [3, 2, 9]), [2, 3]);
  assert.deepEqual(subtract([1, 2, 3], [2]), [1, 3]);
  assert.deepEqual(normalize([3, 1, 3]), [1, 3]);
});
