#!/usr/bin/env -S node --no-memory-reducer --max-semi-space-size=1 --expose-gc --no-expose-wasm
// (V8 heap flags for the long-running agent, measured with bench/idle.ts; they take effect only
// at heap set-up, so v8.setFlagsFromString() at run time is too late:
//   --no-memory-reducer      the memory reducer re-arms an 8 s timer after every GC for as long
//                            as it judges the heap shrinkable: an idle agent woke every 8 s for
//                            it (strace: an eventfd write/read pair on the main thread);
//   --max-semi-space-size=1  the young generation grows to 16 MB semi-spaces during a pass and
//                            stays there: 65 → 60 MB RSS on a running agent;
//   --expose-gc              gc(), for the one full GC after each pass that does the memory
//                            reducer's work while the agent is awake anyway (agent/heap.ts);
//   --no-expose-wasm         nothing here runs WebAssembly, and the unit adds --jitless up to
//                            64 CPUs (systemd/affinityd.service), which turns it off anyway:
//                            said here, V8 does not warn about the conflict at each start.)
// cli/main — the `affinityd` command: argument parsing, exit codes and one-line errors.
// Exit codes follow sysexits.h: 0 ok, 1 other failure, 64 usage, 77 permission (EX_NOPERM),
// 78 configuration (EX_CONFIG). No stack trace reaches the operator unless AFFINITYD_DEBUG=1.

import * as fs from 'node:fs';
import { once } from 'node:events';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PolicyError, formatPolicy, loadPolicy } from '../policy/policy.js';
import { countOutcomes } from '../reconcile/reconcile.js';
import { Reconciler } from '../reconcile/reconciler.js';
import { PathEscapeError } from '../snapshot/fsroot.js';
import { clip, printable, printableLine } from '../text/printable.js';
import { createAuditLog } from '../audit/audit-log.js';
import { CliError, EXIT, parseArgs, type Args } from './args.js';
import { changesText, planJson, planText } from './render.js';
import { statusCommand } from './status.js';
import { version } from '../version.js';
import type { Policy } from '../types.js';

export { version };

const USAGE = `usage: affinityd <command> [options]

commands:
  plan           show the planned IRQ affinity and RPS/XPS masks (no root needed)
  apply          write the plan to the system (root), report and audit each change
  status         per-CPU interrupt and softirq load, with a verdict
  check-config   validate the policy and print the effective policy
  run            the agent: re-plan on CPU hotplug, NIC and driver events
  audit          show the change history from the systemd journal

options:
  --root DIR       read (and write) /proc and /sys under DIR instead of /
  --config FILE    use only this policy file (default /etc/affinityd/affinityd.ini + affinityd.d/*.ini)
  --json           machine-readable output
  --dry-run        apply: show what would be written, write nothing
  --since TIME     audit: entries since TIME (journalctl syntax)
  --irq N          audit: only this IRQ
  --interface IF   audit: only this interface
  --directory DIR  audit: read the journal files in DIR (e.g. systemd-journal-remote's), with a HOST column
  --file FILE      audit: read this journal file, with a HOST column
  --interval SEC   status: sampling interval (default 1)
  --watch          status: refresh until interrupted
  -h, --help       this help
  -V, --version    print the version

exit codes: 0 ok, 1 failure, 64 usage, 77 permission denied, 78 configuration error`;

export function policyOf(args: Args): Policy {
  if (args.config !== undefined && !fs.existsSync(args.config)) throw new CliError(`${args.config}: no such config file`, EXIT.config);
  return loadPolicy({ root: args.root, ...(args.config !== undefined ? { configFile: args.config } : {}) });
}

function requireRoot(args: Args): void {
  if (args.root !== '/') return; // fixture trees are ordinary files
  if (!fs.existsSync('/proc/interrupts')) throw new CliError('/proc/interrupts: not found (is /proc mounted?)', EXIT.failure);
}

/**
 * The owner of this command's pass. Its state file lives under --root too, resolved inside the
 * root: a tree whose links would take it outside is refused.
 */
function reconcilerFor(args: Args, policy: Policy, opts: Omit<ConstructorParameters<typeof Reconciler>[0], 'root' | 'policy'> = {}): Reconciler {
  try {
    return new Reconciler({ root: args.root, policy, ...opts });
  } catch (e) {
    if (e instanceof PathEscapeError) throw new CliError(`--root ${args.root}: state file ${e.message}`, EXIT.failure);
    throw e;
  }
}

async function cmdPlan(args: Args, out: (s: string) => void): Promise<number> {
  const policy = policyOf(args);
  requireRoot(args);
  const notes: string[] = [];
  // The same owner of a pass as `apply` and the agent: the plan shown is the plan applied.
  const reconciler = reconcilerFor(args, policy, { note: (n) => notes.push(n) });
  const { snapshot, plan } = await reconciler.preview();
  plan.warnings.unshift(...snapshot.warnings, ...notes, ...(reconciler.stateProblem ? [reconciler.stateProblem] : []));
  out(args.json ? JSON.stringify(planJson(plan), null, 2) : planText(plan));
  return EXIT.ok;
}

async function cmdApply(args: Args, out: (s: string) => void): Promise<number> {
  const policy = policyOf(args);
  requireRoot(args);
  // A terminal wants the change table on stdout; audit records go to the journal when it is
  // there, else to stderr as JSON lines (stdout stays parseable with --json).
  // A journal that accepts nothing for 1 s is not coming back before a one-shot command ends:
  // its records go to stderr (with a count) instead of a 5 s wait and silence.
  const audit = args.dryRun ? null : createAuditLog({ journal: 'auto', stdout: process.stderr, client: { giveUpMs: 1000 } });
  const reconciler = reconcilerFor(args, policy, { ...(audit ? { audit } : {}), note: (n) => process.stderr.write(`affinityd: ${printableLine(n)}\n`) });
  const problem = reconciler.stateProblem;
  if (problem) {
    process.stderr.write(`affinityd: warning: ${printableLine(problem)}\n`);
    audit?.record({ kind: 'failed', message: `state file ${problem}`, error: problem });
  }
  const result = await reconciler.pass('apply', { dryRun: args.dryRun, save: 'always' });
  if (result.saveError) process.stderr.write(`affinityd: warning: could not save state ${printableLine(reconciler.stateFile)}: ${printableLine(result.saveError)}\n`);
  await audit?.close();
  if (args.json) {
    out(JSON.stringify({ plan: planJson(result.plan), changes: result.report.changes.map((c) => ({ target: c.write.target, old: c.write.old, new: c.write.new, outcome: c.outcome, error: c.error ?? null, effective: c.effective ?? null })) }, null, 2));
  } else {
    out(changesText(result.report.changes));
    const n = countOutcomes(result.report);
    out(`${args.dryRun ? 'would change' : 'changed'} ${n.applied}, skipped ${n.skipped}, failed ${n.failed}`);
  }
  if (result.report.permissionError !== null) throw new CliError(result.report.permissionError, EXIT.noperm);
  return countOutcomes(result.report).failed > 0 ? EXIT.failure : EXIT.ok;
}

async function cmdCheckConfig(args: Args, out: (s: string) => void): Promise<number> {
  const policy = policyOf(args);
  out(args.json ? JSON.stringify(policy, null, 2) : formatPolicy(policy));
  return EXIT.ok;
}

async function cmdAudit(args: Args, out: (s: string) => void): Promise<number> {
  const { auditCommand, AuditReadError } = await import('../audit/audit-reader.js');
  try {
    // Line by line as journalctl delivers. stdout to a pipe is asynchronous on POSIX: wait
    // for it to drain, so a slow reader slows journalctl down instead of filling memory.
    const emit = async (line: string): Promise<void> => {
      out(line);
      if (process.stdout.writableNeedDrain) await once(process.stdout, 'drain');
    };
    await auditCommand(
      {
        ...(args.since !== undefined ? { since: args.since } : {}),
        ...(args.irq !== undefined ? { irq: args.irq } : {}),
        ...(args.interface !== undefined ? { interface: args.interface } : {}),
        ...(args.directory !== undefined ? { directory: args.directory } : {}),
        ...(args.file !== undefined ? { file: args.file } : {}),
        onWarning: (m) => process.stderr.write(`affinityd: warning: ${printableLine(m)}\n`),
        json: args.json,
      },
      emit,
    );
  } catch (e) {
    // Its messages already say what and where ("audit --directory X: no such directory").
    if (e instanceof AuditReadError) throw new CliError(e.message, EXIT.failure);
    throw e;
  }
  return EXIT.ok;
}

/** `run`: the agent. Loaded on demand: the other commands never open netlink sockets. */
async function cmdRun(args: Args): Promise<number> {
  const { startAgent, AgentPermissionError } = await import('../agent/agent.js');
  try {
    return await startAgent({ root: args.root, ...(args.config !== undefined ? { configFile: args.config } : {}) });
  } catch (e) {
    if (e instanceof AgentPermissionError) throw new CliError(e.message, EXIT.noperm);
    throw e;
  }
}

export async function main(argv: string[], rawOut: (s: string) => void = (s) => process.stdout.write(s + '\n')): Promise<number> {
  // Interface names, IRQ names, config text and journal MESSAGEs reach the terminal through
  // here: control characters (ESC, CSI, BEL…) are shown escaped, never interpreted.
  const out = (s: string): void => rawOut(printable(s));
  const args = parseArgs(argv);
  if (args === 'help') {
    out(USAGE);
    return EXIT.ok;
  }
  if (args === 'version') {
    out(`affinityd ${version()}`);
    return EXIT.ok;
  }
  switch (args.command) {
    case 'plan':
      return cmdPlan(args, out);
    case 'apply':
      return cmdApply(args, out);
    case 'check-config':
      return cmdCheckConfig(args, out);
    case 'status':
      return statusCommand(args, out);
    case 'audit':
      return cmdAudit(args, out);
    case 'run':
      return cmdRun(args);
    default:
      throw new CliError(`unknown command "${args.command}" (see affinityd --help)`, EXIT.usage);
  }
}

/** Turn any error into one line and an exit code. */
export function exitCodeOf(e: unknown): { code: number; message: string } {
  if (e instanceof CliError) return { code: e.code, message: e.message };
  if (e instanceof PolicyError) return { code: EXIT.config, message: e.message };
  const err = e as NodeJS.ErrnoException;
  if (err?.code === 'EACCES' || err?.code === 'EPERM' || err?.code === 'EROFS') return { code: EXIT.noperm, message: `${err.path ?? ''}${err.path ? ': ' : ''}permission denied (${err.code})` };
  const name = (e as Error)?.name;
  const msg = (e as Error)?.message ?? String(e);
  return { code: EXIT.failure, message: name && name !== 'Error' ? `${name}: ${msg}` : msg };
}

const isEntry = process.argv[1] !== undefined && fs.realpathSync(process.argv[1]) === fileURLToPath(import.meta.url);
if (isEntry) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      const { code, message } = exitCodeOf(e);
      process.stderr.write(`affinityd: ${printableLine(clip(message.split('\n')[0]!, 1000))}\n`);
      if (process.env.AFFINITYD_DEBUG === '1') process.stderr.write(`${(e as Error)?.stack ?? ''}\n`);
      process.exitCode = code;
    },
  );
}
