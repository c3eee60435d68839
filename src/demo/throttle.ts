/**
 * A token bucket that limits a workload's operations per second.
 *
 * @module
 */

/**
 * Limits operations per second across every loop that takes from it.
 */
export class Throttle {
  /** Operations per second allowed (Infinity: no limit; 0: none until raised). */
  limit = Number.POSITIVE_INFINITY;
  private tokens = 0;
  private last = performance.now();

  /**
   * Changes the limit (takes effect at once, also for loops waiting).
   *
   * @param opsPerSecond - operations per second; Infinity or a negative number lifts the limit
   */
  setLimit(opsPerSecond: number): void {
    this.limit =
      Number.isFinite(opsPerSecond) && opsPerSecond >= 0 ? opsPerSecond : Number.POSITIVE_INFINITY;
    this.tokens = Math.min(this.tokens, 1);
    this.last = performance.now();
  }

  /**
   * Waits until one more operation is allowed.
   *
   * @returns a promise that settles when the caller may go on
   */
  async take(): Promise<void> {
    for (;;) {
      if (this.limit === Number.POSITIVE_INFINITY) return;
      const now = performance.now();
      // A burst of at most 50 ms of operations (and at least one).
      const burst = Math.max(1, this.limit * 0.05);
      this.tokens = Math.min(burst, this.tokens + ((now - this.last) / 1000) * this.limit);
      this.last = now;
      if (this.tokens >= 1) {
        this.tokens -= 1;
        return;
      }
      const wait = this.limit > 0 ? ((1 - this.tokens) / this.limit) * 1000 : 100;
      await new Promise((r) => setTimeout(r, Math.min(100, Math.max(1, wait))));
    }
  }
}
