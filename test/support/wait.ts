/**
 * The one way tests wait for something to happen: poll a probe until its value is what the test
 * needs, with a deadline. A fixed sleep is not a wait: too short on a loaded machine, needlessly long
 * everywhere else, and it says nothing when the thing never happens.
 */

/**
 * Calls `probe` until `done` accepts its value, and resolves with that value; throws, naming `what`
 * and the last value seen, when `timeoutMs` passes first. A probe that throws ends the wait at once.
 */
export async function waitFor<T>(
  what: string,
  probe: () => T | Promise<T>,
  done: (v: T) => boolean,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T = await probe();
  while (!done(last)) {
    if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(last)} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
    last = await probe();
  }
  return last;
}
