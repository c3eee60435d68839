/**
 * The base class of every typed error this library throws for hostile or
 * corrupt peer data.
 *
 * Three kinds of outcome exist in this codebase (see docs/architecture.md):
 * normal states are return values (an empty ring, a full ring), caller misuse
 * throws `TypeError` or `RangeError`, and data a peer controls that breaks
 * the protocol throws a subclass of {@link VmbusError}. Each error carries a
 * stable machine-readable `code` (never reworded once released) and a
 * `reason`: a sentence that names the check that failed and quotes the values.
 *
 * Like undici's errors, instances carry a brand symbol registered with
 * `Symbol.for`, so `VmbusError.is(e)` works even when two copies of the
 * package are loaded (a worker bundle and the main thread, for example).
 *
 * @module
 */

const BRAND: unique symbol = Symbol.for('vmbus-kmcl.error') as never;

/**
 * A protocol violation by the peer, or corruption of shared memory.
 *
 * @example
 * ```ts
 * import { VmbusError } from 'vmbus-kmcl';
 * const e = new VmbusError('VMBUS_EXAMPLE', 'example check failed');
 * console.log(VmbusError.is(e), e.code); // true VMBUS_EXAMPLE
 * ```
 */
export class VmbusError extends Error {
  /** Stable identifier of the failed check, such as `VMBUS_RING_BAD_OFFSET8`. */
  readonly code: string;
  /** A sentence naming the failed check and quoting the offending values. */
  readonly reason: string;
  readonly [BRAND] = true;

  /**
   * @param code - stable identifier of the failed check
   * @param reason - a sentence naming the check and quoting the values
   */
  constructor(code: string, reason: string) {
    super(`${reason} (${code})`);
    this.name = 'VmbusError';
    this.code = code;
    this.reason = reason;
  }

  /**
   * Whether `value` is a {@link VmbusError} from any copy of this package.
   *
   * @param value - anything caught
   * @returns true when `value` carries the package's error brand
   */
  static is(value: unknown): value is VmbusError {
    return typeof value === 'object' && value !== null && (value as never)[BRAND] === true;
  }
}
