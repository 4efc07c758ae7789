// cli/args — the command line's argument types and parser, owned by the CLI: commands
// (including `run`, which starts the agent) receive plain options, never these types.
// node:util parseArgs does the splitting (--opt=value, --opt value, flags, unknown options);
// this module adds what it cannot: typed values, sysexits codes and one-line messages.

import * as fs from 'node:fs';
import { parseArgs as splitArgs } from 'node:util';

export const EXIT = { ok: 0, failure: 1, usage: 64, noperm: 77, config: 78 } as const;

export class CliError extends Error {
  constructor(
    message: string,
    readonly code: number,
  ) {
    super(message);
  }
}

export interface Args {
  command: string;
  root: string;
  config?: string;
  json: boolean;
  dryRun: boolean;
  watch: boolean;
  since?: string;
  irq?: number;
  interface?: string;
  /** audit: journal files collected from hosts (journalctl --directory / --file). */
  directory?: string;
  file?: string;
  interval: number;
}

const OPTIONS = {
  root: { type: 'string' },
  config: { type: 'string' },
  json: { type: 'boolean' },
  'dry-run': { type: 'boolean' },
  watch: { type: 'boolean' },
  since: { type: 'string' },
  irq: { type: 'string' },
  interface: { type: 'string' },
  directory: { type: 'string' },
  file: { type: 'string' },
  interval: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'V' },
} as const;

/** node:util's messages are multi-line and name its own API; say it the affinityd way. */
function usageError(e: unknown): CliError {
  const err = e as { code?: string; message?: string };
  const option = /'(-[^' ]+)/.exec(err.message ?? '')?.[1];
  switch (err.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return new CliError(`unknown option ${option ?? '?'} (see affinityd --help)`, EXIT.usage);
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      return new CliError(`${option ?? 'an option'} needs a value`, EXIT.usage);
    default:
      return new CliError(`${(err.message ?? String(e)).split('\n')[0]} (see affinityd --help)`, EXIT.usage);
  }
}

export function parseArgs(argv: string[]): Args | 'help' | 'version' {
  let parsed: ReturnType<typeof splitArgs<{ args: string[]; options: typeof OPTIONS; allowPositionals: true; strict: true }>>;
  try {
    parsed = splitArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (e) {
    throw usageError(e);
  }
  const v = parsed.values;
  if (v.help) return 'help';
  if (v.version) return 'version';
  const [command, extra] = parsed.positionals;
  if (extra !== undefined) throw new CliError(`unexpected argument "${extra}" (see affinityd --help)`, EXIT.usage);
  if (!command) throw new CliError('no command given (see affinityd --help)', EXIT.usage);
  const args: Args = { command, root: v.root ?? '/', json: v.json ?? false, dryRun: v['dry-run'] ?? false, watch: v.watch ?? false, interval: 1 };
  if (v.config !== undefined) args.config = v.config;
  if (v.since !== undefined) args.since = v.since;
  if (v.interface !== undefined) args.interface = v.interface;
  if (v.directory !== undefined) args.directory = v.directory;
  if (v.file !== undefined) args.file = v.file;
  if (v.irq !== undefined) {
    if (!/^\d+$/.test(v.irq)) throw new CliError(`--irq: "${v.irq}" is not an IRQ number`, EXIT.usage);
    args.irq = Number(v.irq);
  }
  if (v.interval !== undefined) {
    if (!/^\d+(\.\d+)?$/.test(v.interval) || Number(v.interval) <= 0) throw new CliError(`--interval: "${v.interval}" is not a positive number of seconds`, EXIT.usage);
    args.interval = Number(v.interval);
  }
  if (args.root !== '/' && !fs.statSync(args.root, { throwIfNoEntry: false })?.isDirectory()) throw new CliError(`--root ${args.root}: no such directory`, EXIT.usage);
  return args;
}
