// policy-match tests — the glob engine of policy/match.ts against an independent oracle, its
// edge cases and limits, and which [net:*] / [irq:*] / [serial:*] section a device gets.
//
// The oracle: globs are generated as token lists and written out twice, as glob text and as
// the RegExp that means the same, so compileGlob is checked against V8's regex engine on the
// same pattern rather than against a second copy of its own parser.

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  compileGlob,
  GlobError,
  globMatch,
  irqMatches,
  MAX_GLOB_LENGTH,
  MAX_MATCH_TEXT,
  matchIrqSection,
  matchNicSection,
  matchSerialSection,
  nicMatches,
  serialMatches,
  splitList,
  type SerialIdentity,
} from '../src/policy/match.js';
import { parsePolicy, PolicyError } from '../src/policy/policy.js';
import { runs } from './helpers/runs.js';

const F = '/etc/affinityd/affinityd.ini';

// ---------------------------------------------------------------------------------------
// Generated globs

/** Characters of both globs and texts: letters, and every character the syntax gives a meaning. */
const CHARS = ['a', 'b', 'c', 'd', 'e', '.', '-', '*', '?', '[', ']', '\\', '!', '^'];

type Tok =
  | { t: 'star' }
  | { t: 'any' }
  | { t: 'lit'; c: string }
  | { t: 'class'; neg: '' | '!' | '^'; bracketFirst: boolean; items: ([string, string] | string)[]; dashLast: boolean };

const u = (c: string): string => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;

const letter = fc.constantFrom('a', 'b', 'c', 'd', 'e');
const classItem = fc.oneof(
  letter,
  // '!' and '^' are literal anywhere but first, which the class writer keeps them from being.
  fc.constantFrom('.', '!', '^', '*', '?'),
  fc.tuple(letter, letter).map(([x, y]) => (x <= y ? ([x, y] as [string, string]) : ([y, x] as [string, string]))),
);
const tok: fc.Arbitrary<Tok> = fc.oneof(
  fc.constant({ t: 'star' } as Tok),
  fc.constant({ t: 'any' } as Tok),
  fc.constantFrom(...CHARS).map((c) => ({ t: 'lit', c }) as Tok),
  fc
    .record({
      neg: fc.constantFrom('' as const, '!' as const, '^' as const),
      bracketFirst: fc.boolean(),
      items: fc.array(classItem, { minLength: 1, maxLength: 4 }),
      dashLast: fc.boolean(),
    })
    .map((r) => ({ t: 'class', ...r }) as Tok),
);

function globOf(toks: Tok[]): string {
  return toks
    .map((k) => {
      if (k.t === 'star') return '*';
      if (k.t === 'any') return '?';
      if (k.t === 'lit') return '*?[\\'.includes(k.c) ? `\\${k.c}` : k.c;
      const items = k.items.map((i) => (typeof i === 'string' ? i : `${i[0]}-${i[1]}`));
      // A literal item followed by a range item must not read as a range of its own ("a" "b-c"
      // is "ab-c", still a then b-c), and the first item must not be '!'/'^'.
      const first = items[0]!;
      if (!k.bracketFirst && (first === '!' || first === '^')) items[0] = 'a';
      return `[${k.neg}${k.bracketFirst ? ']' : ''}${items.join('')}${k.dashLast ? '-' : ''}]`;
    })
    .join('');
}

function regexOf(toks: Tok[]): RegExp {
  const body = toks
    .map((k) => {
      if (k.t === 'star') return '[\\s\\S]*';
      if (k.t === 'any') return '[\\s\\S]';
      if (k.t === 'lit') return u(k.c);
      const items = k.items.map((i) => (typeof i === 'string' ? u(i) : `${u(i[0])}-${u(i[1])}`));
      const first = k.items[0]!;
      if (!k.bracketFirst && (first === '!' || first === '^')) items[0] = 'a';
      return `[${k.neg ? '^' : ''}${k.bracketFirst ? u(']') : ''}${items.join('')}${k.dashLast ? u('-') : ''}]`;
    })
    .join('');
  return new RegExp(`^${body}$`);
}

/** A text the glob should match, steered by `pick` (so that matches are common, not rare). */
function sampleOf(toks: Tok[], pick: number[]): string {
  let n = 0;
  const next = (m: number): number => pick[n++ % pick.length]! % m;
  return toks
    .map((k) => {
      if (k.t === 'star') return Array.from({ length: next(3) }, () => CHARS[next(CHARS.length)]).join('');
      if (k.t === 'any' || k.t === 'class') return CHARS[next(CHARS.length)]!;
      return k.c;
    })
    .join('');
}

describe('globs', () => {
  test('compileGlob matches exactly what the same pattern as a RegExp matches (generated)', () => {
    fc.assert(
      fc.property(
        fc.array(tok, { maxLength: 6 }),
        fc.array(fc.nat(), { minLength: 1, maxLength: 12 }),
        fc.array(fc.constantFrom(...CHARS), { maxLength: 7 }).map((a) => a.join('')),
        (toks, pick, random) => {
          const glob = globOf(toks);
          const re = regexOf(toks);
          for (const text of [sampleOf(toks, pick), random]) {
            assert.equal(compileGlob(glob).test(text), re.test(text), `glob ${JSON.stringify(glob)} on ${JSON.stringify(text)} (as ${re})`);
          }
        },
      ),
      { numRuns: runs(3000) },
    );
  });

  test('class edge cases: ] first, - last, ! and ^ negate only first, one-character ranges', () => {
    const cases: [string, string[], string[]][] = [
      ['[]a]', [']', 'a'], ['b', '[']],
      ['[!]a]', ['b', '!'], [']', 'a']],
      ['[^]a]', ['b', '^'], [']', 'a']],
      ['[a-]', ['a', '-'], ['b']],
      ['[-a]', ['a', '-'], ['b']],
      ['[!a]', ['b', '!'], ['a']],
      ['[^a]', ['b', '^'], ['a']],
      ['[a^]', ['a', '^'], ['b']],
      ['[a!]', ['a', '!'], ['b']],
      ['[a-a]', ['a'], ['b']],
      ['[a-cx]', ['a', 'b', 'c', 'x'], ['d', '-']],
      ['[acb]', ['a', 'b', 'c'], ['d']],
      ['[a-c-e]', ['a', 'c', '-', 'e'], ['d']],
      ['a\\', ['a\\'], ['a', 'a\\\\']],
      ['\\a', ['a'], ['\\a']],
      ['**a', ['a', 'xa', 'xxa'], ['ab', '']],
      ['*', ['', 'anything.at-all'], []],
      ['a*', ['a', 'abc'], ['ba']],
    ];
    for (const [glob, yes, no] of cases) {
      for (const t of yes) assert.ok(globMatch(glob, t), `${glob} should match ${JSON.stringify(t)}`);
      for (const t of no) assert.ok(!globMatch(glob, t), `${glob} should not match ${JSON.stringify(t)}`);
    }
  });

  test('malformed globs are GlobErrors that say what is wrong', () => {
    const cases: [string, string][] = [
      ['eth[', `unterminated '[' in glob "eth["`],
      ['[]', `unterminated '[' in glob "[]"`],
      ['[!]', `unterminated '[' in glob "[!]"`],
      ['[^]', `unterminated '[' in glob "[^]"`],
      ['eth[z-a]', `reversed range 'z-a' in glob "eth[z-a]" (write 'a-z')`],
      ['[ab9-0]', `reversed range '9-0' in glob "[ab9-0]" (write '0-9')`],
      ['x'.repeat(MAX_GLOB_LENGTH + 1), `glob of ${MAX_GLOB_LENGTH + 1} characters is too long (max ${MAX_GLOB_LENGTH})`],
    ];
    for (const [glob, message] of cases) {
      assert.throws(() => compileGlob(glob), (e: unknown) => e instanceof GlobError && e.message === message, glob);
    }
    assert.ok(globMatch('x'.repeat(MAX_GLOB_LENGTH), 'x'.repeat(MAX_GLOB_LENGTH)), 'a glob of the maximum length is accepted');
    // The loader turns them into a config error naming the key (exit 78), never an internal error.
    assert.throws(
      () => parsePolicy('[net:x]\nmatch-name = eth[z-a]', F),
      (e: unknown) => e instanceof PolicyError && e.message === `${F}:2: [net:x] match-name: reversed range 'z-a' in glob "eth[z-a]" (write 'a-z')`,
    );
  });

  test('texts longer than any kernel name never match', () => {
    assert.ok(globMatch('*', 'a'.repeat(MAX_MATCH_TEXT)));
    assert.ok(!globMatch('*', 'a'.repeat(MAX_MATCH_TEXT + 1)));
  });

  test('lists split on blanks and commas, never inside a class', () => {
    assert.deepEqual(splitList('eth[0,2] eth1,eth3'), ['eth[0,2]', 'eth1', 'eth3']);
    assert.deepEqual(splitList(' ,a,, b\tc '), ['a', 'b', 'c']);
    assert.deepEqual(splitList(''), []);
  });
});

// ---------------------------------------------------------------------------------------
// Sections

const nic = (name: string, driver: string | null = null, pci: string | null = null, mac: string | null = null) => ({ name, driver, pci, mac });

describe('which section a device gets', () => {
  test('a match without any match-* key matches nothing', () => {
    assert.equal(nicMatches({}, nic('eth0', 'e1000e', '0000:00:19.0', '52:54:00:00:00:01')), false);
    assert.equal(irqMatches({}, 'eth0', 5), false);
    assert.equal(irqMatches({ irq: [] }, 'eth0', 5), false);
    const port: SerialIdentity = { path: '/dev/ttyUSB0', byId: ['usb-x'], vendorId: '0403', productId: '6001', serialNumber: 'A1' };
    assert.equal(serialMatches({}, port), false);
  });

  test('each NIC match key works on its own (PCI and MAC case-insensitive)', () => {
    const p = parsePolicy(['[net:by-pci]', 'match-pci = 0000:3B:00.*', '[net:by-mac]', 'match-mac = 52:54:00:AB:*'].join('\n'), F);
    assert.equal(matchNicSection(p, nic('x', null, '0000:3b:00.1'))?.name, 'net:by-pci');
    assert.equal(matchNicSection(p, nic('x', null, '0000:3B:00.1'))?.name, 'net:by-pci');
    assert.equal(matchNicSection(p, nic('x', null, '0000:3c:00.1')), null);
    assert.equal(matchNicSection(p, nic('x', null, null, '52:54:00:ab:00:01'))?.name, 'net:by-mac');
    assert.equal(matchNicSection(p, nic('x')), null);
  });

  test('IRQ patterns: a number or range names IRQ numbers only when it is all digits; a nameless IRQ matches no glob', () => {
    const p = parsePolicy(['[irq:odd]', 'match-irq = 1x 40-41y', '[irq:all]', 'match-irq = *', '[irq:range]', 'match-irq = 7-8'].join('\n'), F);
    // "1x" and "40-41y" are name globs, not numbers: IRQ 1 and 40 are not theirs.
    assert.equal(matchIrqSection(p, '1x', 99)?.name, 'irq:all', '[irq:all] comes later and matches every named IRQ');
    assert.equal(irqMatches(p.sections[0]!.match, '1x', 99), true);
    assert.equal(irqMatches(p.sections[0]!.match, 'timer', 1), false);
    assert.equal(irqMatches(p.sections[0]!.match, 'timer', 40), false);
    assert.equal(matchIrqSection(p, '', 3), null, 'an IRQ without an action name is matched by number only');
    assert.equal(matchIrqSection(p, '', 8)?.name, 'irq:range');
    assert.equal(matchIrqSection(p, '', 9), null);
  });

  test('a USB id is only matched when both halves are known', () => {
    const p = parsePolicy('[serial:any-usb]\nmatch-usb-id = *\npin = 1', F);
    const port = (vendorId: string | null, productId: string | null): SerialIdentity => ({ path: '/dev/ttyUSB0', byId: [], vendorId, productId, serialNumber: null });
    assert.equal(matchSerialSection(p, port('0403', '6001'))?.name, 'serial:any-usb');
    assert.equal(matchSerialSection(p, port('0403', null)), null);
    assert.equal(matchSerialSection(p, port(null, '6001')), null);
    assert.equal(matchSerialSection(p, port(null, null)), null);
  });

  test('a policy without [serial:*] sections gives no port a section', () => {
    const p = parsePolicy('[net:a]\nmatch-name = a', F);
    assert.equal(p.serialSections, undefined);
    assert.equal(matchSerialSection(p, { path: '/dev/ttyS0', byId: [], vendorId: null, productId: null, serialNumber: null }), null);
  });
});
