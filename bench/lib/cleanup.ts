// bench/lib/cleanup — a last-in-first-out stack of SYNCHRONOUS undo steps for everything the
// traffic lab creates (namespaces, processes, IRQ masks, temp files). Synchronous on purpose:
// the same steps must run from a `finally`, from a SIGINT/SIGTERM handler and from the
// process 'exit' hook, and only synchronous code runs reliably in all three.

export class Cleanup {
  private readonly steps: { what: string; undo: () => void }[] = [];

  /** Register an undo step; the returned function drops it (after a normal, checked teardown). */
  add(what: string, undo: () => void): () => void {
    const step = { what, undo };
    this.steps.push(step);
    return () => {
      const i = this.steps.indexOf(step);
      if (i >= 0) this.steps.splice(i, 1);
    };
  }

  get pending(): string[] {
    return this.steps.map((s) => s.what);
  }

  /** Run every step, newest first. One failing step never stops the others; returns their errors. */
  runAll(): string[] {
    const errors: string[] = [];
    while (this.steps.length > 0) {
      const step = this.steps.pop()!;
      try {
        step.undo();
      } catch (e) {
        errors.push(`${step.what}: ${(e as Error).message}`);
      }
    }
    return errors;
  }
}
