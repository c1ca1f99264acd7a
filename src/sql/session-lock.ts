/**
 * One holder at a time, in order, without blocking the event loop: how a single database connection
 * is shared by the requests of one process, so that one request's transaction never runs another's
 * statements in the middle of it.
 */
export class SessionLock {
  private tail: Promise<unknown> = Promise.resolve();

  hold<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.tail.then(fn);
    // The next holder waits for this one to end, however it ends.
    this.tail = run.catch(() => undefined);
    return run;
  }
}
