/**
 * Rate-limited logging of protocol violations: a peer that floods the bus
 * with bad messages must not flood the log too. Each category may log a few
 * lines per interval; the rest are counted and summarised in the next line
 * that gets through. Every violation is also counted by code, whatever the
 * log says.
 *
 * @module
 */

/**
 * Where log lines go (default: `console.warn`).
 *
 * @example
 * ```ts
 * import { type LogSink, createLocalBus } from 'vmbus-kmcl';
 * const lines: string[] = [];
 * const log: LogSink = (line) => lines.push(line);
 * createLocalBus({ log }).dispose(); // violations go to `lines` instead of stderr
 * ```
 */
export type LogSink = (line: string) => void;

/** Counts and rate-limits violation reports. *
 * @example
 * ```ts
 * import { BusLog } from 'vmbus-kmcl';
 * const lines: string[] = [];
 * const log = new BusLog((line) => lines.push(line), 2);
 * for (let i = 0; i < 10; i++) log.violation('VMBUS_EXAMPLE', 'a bad message');
 * console.log(log.total, lines.length); // 10 2
 * ```
 */
export class BusLog {
  /** Violations by code, all of them, logged or not. */
  readonly counts = new Map<string, number>();
  private readonly sink: LogSink;
  private readonly perInterval: number;
  private readonly intervalMs: number;
  private windowStart = 0;
  private inWindow = 0;
  private suppressed = 0;
  private readonly now: () => number;

  /**
   * @param sink - receives each line
   * @param perInterval - lines allowed per interval
   * @param intervalMs - the interval
   * @param now - clock in ms (for tests)
   */
  constructor(
    sink: LogSink = (line) => console.warn(line),
    perInterval = 5,
    intervalMs = 1000,
    now: () => number = () => Date.now(),
  ) {
    this.sink = sink;
    this.perInterval = perInterval;
    this.intervalMs = intervalMs;
    this.now = now;
  }

  /** Violations counted so far. */
  get total(): number {
    let n = 0;
    for (const v of this.counts.values()) n += v;
    return n;
  }

  /**
   * Counts a violation and logs it unless the rate limit is reached.
   *
   * @param code - stable code of the violation
   * @param message - what happened, quoting the values
   */
  violation(code: string, message: string): void {
    this.counts.set(code, (this.counts.get(code) ?? 0) + 1);
    const t = this.now();
    if (t - this.windowStart >= this.intervalMs) {
      this.windowStart = t;
      this.inWindow = 0;
    }
    if (this.inWindow >= this.perInterval) {
      this.suppressed++;
      return;
    }
    this.inWindow++;
    const extra = this.suppressed > 0 ? ` (${this.suppressed} similar lines suppressed)` : '';
    this.suppressed = 0;
    this.sink(`vmbus: ${code}: ${message}${extra}`);
  }
}
