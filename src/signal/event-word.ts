/**
 * An event word: the simulated interrupt line between two sides of a ring,
 * one `Int32` slot of a `SharedArrayBuffer` that the signaller increments
 * and the sleeper waits on. It stands for what Hyper-V does with SynIC
 * event flags and HvSignalEvent (spec vmbus-wire.md §3.6): the ring rules of
 * §1.8 decide *whether* to signal; this decides *how*.
 *
 * Why a counter and not a flag: a sleeper reads the counter, then re-checks
 * its ring, then waits for the counter to move from the value it read. A
 * signal that lands between the re-check and the wait changes the counter,
 * so the wait returns at once: no wake-up is ever lost.
 *
 * `Atomics.add` is sequentially consistent, so everything the signaller
 * wrote before signalling (the ring's write index) is visible to a sleeper
 * that wakes. `Atomics.wait` blocks a thread (workers, Node's main thread);
 * `Atomics.waitAsync` returns a promise and is what a browser's or Node's
 * main thread should use so it never busy-waits.
 *
 * @module
 */

/**
 * One signal line over a shared `Int32Array` slot.
 *
 * @example
 * ```ts
 * import { EventWord } from 'vmbus-kmcl';
 * const word = new EventWord(new Int32Array(new SharedArrayBuffer(4)), 0);
 * const seen = word.value;
 * word.signal();
 * console.log(word.waitSync(seen, 0)); // 'not-equal': the signal already came
 * ```
 */
export class EventWord {
  /** Signals sent through this object. */
  signals = 0;
  /** Waits that slept (the word had not moved yet). */
  sleeps = 0;
  private readonly words: Int32Array;
  private readonly index: number;

  /**
   * @param words - an `Int32Array` over a `SharedArrayBuffer`
   * @param index - the slot in `words`
   * @throws RangeError when the slot is outside `words`
   */
  constructor(words: Int32Array, index: number) {
    if (!Number.isInteger(index) || index < 0 || index >= words.length) {
      throw new RangeError(`Event word index ${index} is outside an array of ${words.length}`);
    }
    this.words = words;
    this.index = index;
  }

  /** The current count (read it before re-checking the ring, then wait on it). */
  get value(): number {
    return Atomics.load(this.words, this.index);
  }

  /** Increments the count and wakes every waiter. */
  signal(): void {
    Atomics.add(this.words, this.index, 1);
    Atomics.notify(this.words, this.index);
    this.signals++;
  }

  /**
   * Blocks the thread until the count differs from `seen` or the timeout
   * passes. Not allowed on a browser's main thread.
   *
   * @param seen - the count read before the last check of the ring
   * @param timeoutMs - milliseconds to wait at most (Infinity for ever)
   * @returns `'ok'` when woken, `'not-equal'` when the count had already moved, or `'timed-out'`
   */
  waitSync(seen: number, timeoutMs = Number.POSITIVE_INFINITY): 'ok' | 'not-equal' | 'timed-out' {
    const r = Atomics.wait(this.words, this.index, seen, timeoutMs);
    if (r !== 'not-equal') this.sleeps++;
    return r;
  }

  /**
   * Waits without blocking the thread (allocates a promise when it sleeps).
   *
   * @param seen - the count read before the last check of the ring
   * @param timeoutMs - milliseconds to wait at most
   * @returns a promise of `'ok'`, `'not-equal'` or `'timed-out'`
   */
  waitAsync(
    seen: number,
    timeoutMs = Number.POSITIVE_INFINITY,
  ): Promise<'ok' | 'timed-out'> | 'not-equal' | 'timed-out' {
    const r = Atomics.waitAsync(this.words, this.index, seen, timeoutMs);
    if (!r.async) return r.value;
    this.sleeps++;
    return r.value;
  }
}
