// agent/pending-work — what the events since the last pass ask of the next one (pure
// bookkeeping; the agent reads it when a pass starts).
//
// Kept as flags and a set, not read off the batch: a batch keeps only its first MAX_KEPT
// events, so a SIGHUP or a CPU add in the middle of an event storm would otherwise be lost.

import type { AgentEvent } from './events.js';

export interface PassWork {
  /** A SIGHUP arrived: re-read the policy before the pass. */
  reload: boolean;
  /**
   * Only CPUs went online/offline (or were added/removed): the pass may refresh the last
   * snapshot instead of re-reading everything (snapshot/refresh, issue 14). A CPU add or
   * remove changes only CPU topology, which the refresh re-reads whole; IRQs and NICs do not
   * change with it. Any other event — a resync, a reload, a device — reads everything.
   */
  refresh: boolean;
  /** CPUs announced by an `add` uevent, in arrival order. */
  hotAdded: number[];
}

export class PendingWork {
  private reloadWanted = false;
  // The first pass reads everything.
  private fullSnapshotWanted = true;
  private readonly hotAdded = new Set<number>();

  note(e: AgentEvent): void {
    if (e.kind === 'reload') this.reloadWanted = true;
    if (e.kind !== 'cpu') this.fullSnapshotWanted = true;
    if (e.kind === 'cpu' && e.action === 'add') this.hotAdded.add(e.cpu);
  }

  /** What was noted since the last take(); starts afresh. */
  take(): PassWork {
    const work = { reload: this.reloadWanted, refresh: !this.fullSnapshotWanted, hotAdded: [...this.hotAdded] };
    this.reloadWanted = false;
    this.fullSnapshotWanted = false;
    this.hotAdded.clear();
    return work;
  }
}

/** Physical CPU hotplug (and anything the agent may have missed) can change the CPU topology. */
export function changesTopology(e: AgentEvent): boolean {
  return (e.kind === 'cpu' && (e.action === 'add' || e.action === 'remove')) || e.kind === 'resync';
}
