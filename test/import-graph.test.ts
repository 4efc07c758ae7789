// import graph — no circles, and each stage on its own floor.
//
// Reads the TypeScript sources (static imports, `export … from`, `import type` and dynamic
// `import()` alike: a type-only circle is still two modules that cannot be understood one
// without the other) and checks two graphs: modules, and the directories of src/ (the
// stages). Both must be free of cycles, and a stage may only import stages on lower floors.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const SRC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src');

/**
 * The floors, lowest first: a module may import its own floor's stage and any stage below.
 * `types.ts`, `targets.ts` and `version.ts` (data shapes and names) sit at the bottom with cpumask.
 * metrics reads what a pass produced (applier results, plans), beside reconcile.
 */
const FLOORS: string[][] = [
  ['(root)', 'cpumask', 'text'],
  ['policy', 'snapshot', 'state', 'audit'],
  ['planner', 'applier', 'status'],
  ['reconcile', 'metrics'],
  ['agent'],
  ['cli'],
];

function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : []));
}

/** Relative specifiers a module imports, resolved to .ts files under src/. */
export function importsOf(file: string, text: string): string[] {
  const specs = [...text.matchAll(/(?:^|\s)(?:import|export)\s[^'";]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|^import\s+['"]([^'"]+)['"]/gm)].map((m) => m[1] ?? m[2] ?? m[3]!);
  return specs.filter((s) => s.startsWith('.')).map((s) => path.resolve(path.dirname(file), s).replace(/\.js$/, '.ts'));
}

/** One cycle in `graph` (as a path that returns to its start), or null. */
export function findCycle(graph: Map<string, string[]>): string[] | null {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (n: string): string[] | null => {
    if (state.get(n) === 'done') return null;
    if (state.get(n) === 'open') return [...stack.slice(stack.indexOf(n)), n];
    state.set(n, 'open');
    stack.push(n);
    for (const m of graph.get(n) ?? []) {
      const c = visit(m);
      if (c) return c;
    }
    stack.pop();
    state.set(n, 'done');
    return null;
  };
  for (const n of graph.keys()) {
    const c = visit(n);
    if (c) return c;
  }
  return null;
}

const stageOf = (file: string): string => {
  const rel = path.relative(SRC, file).split(path.sep);
  return rel.length > 1 ? rel[0]! : '(root)';
};

const files = sources(SRC);
const graph = new Map(files.map((f) => [f, importsOf(f, fs.readFileSync(f, 'utf8'))]));
const short = (f: string) => path.relative(SRC, f);

test('the checker sees circles (it is not vacuous)', () => {
  assert.deepEqual(findCycle(new Map([['a', ['b']], ['b', ['c']], ['c', ['a']]])), ['a', 'b', 'c', 'a']);
  assert.equal(findCycle(new Map([['a', ['b', 'c']], ['b', ['c']], ['c', []]])), null);
  const text = "import type { A } from './a.js';\nexport { b } from '../b/b.js';\nconst m = await import('./m.js');\nimport x from 'rxjs';\n";
  assert.deepEqual(importsOf('/s/x/y.ts', text), ['/s/x/a.ts', '/s/b/b.ts', '/s/x/m.ts']);
  assert.ok(graph.size > 30, `read ${graph.size} modules from ${SRC}`);
  for (const [f, deps] of graph) for (const d of deps) assert.ok(fs.existsSync(d), `${short(f)} imports ${short(d)}, which does not exist`);
});

test('no module is part of an import circle', () => {
  const cycle = findCycle(graph);
  assert.equal(cycle, null, `import circle: ${cycle?.map(short).join(' → ')}`);
});

test('stages import only their own floor or lower ones, and their graph has no circle', () => {
  const floor = new Map(FLOORS.flatMap((stages, i) => stages.map((s) => [s, i] as const)));
  const stages = new Map<string, Set<string>>();
  for (const [f, deps] of graph) {
    const from = stageOf(f);
    assert.ok(floor.has(from), `src/${from}/ is on no floor: add it to FLOORS in this test`);
    for (const d of deps) {
      const to = stageOf(d);
      if (to === from) continue;
      assert.ok(floor.get(to)! <= floor.get(from)!, `${short(f)} (${from}, floor ${floor.get(from)}) imports ${short(d)} (${to}, floor ${floor.get(to)}): data points the wrong way`);
      stages.set(from, (stages.get(from) ?? new Set()).add(to));
    }
  }
  const cycle = findCycle(new Map([...stages].map(([k, v]) => [k, [...v]])));
  assert.equal(cycle, null, `stage circle: ${cycle?.join(' → ')}`);
});
