// metrics/textfile — the default exporter: node_exporter's textfile collector.
//
// The agent replaces <dir>/affinityd.prom after each pass and when it stops. No socket is
// opened, so the hardened unit keeps `IPAddressDeny=any` and its address families. The file
// is written whole under a name the collector ignores (it reads only *.prom) and renamed
// over the old one: a scrape sees the previous file or the new one, never half of one.
//
// A directory that cannot be written is a fault, not a reason to stop balancing: one
// warning when writing starts failing (or fails differently), one line when it works
// again — not one per pass.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { removeFileIfPresent } from '../remove-file.js';

export const TEXTFILE_NAME = 'affinityd.prom';

export interface TextfileLog {
  warn(msg: string): void;
  info(msg: string): void;
}

export class TextfileExporter {
  readonly file: string;
  private readonly tmp: string;
  /** null: the last write worked (or none was tried); else why it failed. */
  private problem: string | null = null;
  private chain: Promise<void> = Promise.resolve();

  constructor(
    readonly dir: string,
    private readonly render: () => Promise<string>,
    private readonly log: TextfileLog,
  ) {
    this.file = path.join(dir, TEXTFILE_NAME);
    this.tmp = path.join(dir, `.${TEXTFILE_NAME}.${process.pid}.tmp`);
  }

  /** Write the current metrics; writes never overlap and never throw. */
  write(): Promise<void> {
    this.chain = this.chain.then(() => this.writeNow());
    return this.chain;
  }

  /** Whether the last write failed, and why (for tests and status). */
  lastProblem(): string | null {
    return this.problem;
  }

  private async writeNow(): Promise<void> {
    let text: string;
    try {
      text = await this.render();
    } catch (e) {
      return this.failed(`cannot render metrics: ${(e as Error).message}`);
    }
    try {
      // A stale temp file (or a link planted under its name) is removed, and O_EXCL never
      // follows a link: the write lands in this directory or fails. rename() replaces a
      // link at affinityd.prom itself rather than following it.
      removeFileIfPresent(this.tmp);
      fs.writeFileSync(this.tmp, text, { mode: 0o644, flag: 'wx' });
      fs.renameSync(this.tmp, this.file);
    } catch (e) {
      try {
        fs.unlinkSync(this.tmp);
      } catch {
        // never created, or the directory itself is gone
      }
      const err = e as NodeJS.ErrnoException;
      return this.failed(`cannot write ${this.file}: ${err.code ?? err.message}`);
    }
    if (this.problem !== null) this.log.info(`metrics textfile ${this.file} written again`);
    this.problem = null;
  }

  private failed(problem: string): void {
    if (problem !== this.problem) this.log.warn(`${problem}; metrics not exported through the textfile collector until this is fixed (the agent keeps working)`);
    this.problem = problem;
  }

  /** Wait for the write in flight. The .prom stays: node_exporter keeps serving the last values, and affinityd_up 0 says they are old. */
  async close(): Promise<void> {
    await this.chain;
  }
}
