/**
 * The control page of one ring (spec vmbus-wire.md §1.2), and the only
 * module of the ring layer that uses `Atomics`.
 *
 * ```
 *  offset  field              written by   meaning
 *  0       write_index  u32   writer       data-area offset of the next packet
 *  4       read_index   u32   reader       data-area offset of the next unread packet
 *  8       interrupt_mask u32 reader       non-zero: the writer must not signal
 *  12      pending_send_sz u32 writer      free bytes the writer waits for (0: none)
 *  16..63  reserved                        written as 0
 *  64      feature_bits u32   writer       bit 0: the writer uses pending_send_sz
 *  68..4095 reserved
 *  4096    data area (dsize bytes) starts here
 * ```
 *
 * Why `Atomics` here and nowhere else in the ring: the two sides of a ring
 * may run in different threads over one `SharedArrayBuffer`. Every access to
 * these five words goes through `Atomics.load`/`Atomics.store`, which are
 * sequentially consistent. That gives each ordering spec §1.7 asks for:
 * packet bytes written with plain stores are visible before a later
 * `Atomics.store` of the write index (release), a reader's `Atomics.load` of
 * the write index orders its later plain loads of packet bytes (acquire), and
 * a store followed by a load of another word is never reordered (the full
 * barrier that the signalling rules of §1.8 need). On a non-shared
 * `ArrayBuffer` the same calls are plain accesses.
 *
 * @module
 */

/**
 * Bytes in a control page (always 4096, whatever the guest's page size).
 *
 * @example
 * ```ts
 * import { CONTROL_PAGE_SIZE, OutgoingRing, ControlPage } from 'vmbus-kmcl/ring';
 * const sab = new SharedArrayBuffer(CONTROL_PAGE_SIZE + 4096);
 * ControlPage.initialize(sab, 0);
 * console.log(new OutgoingRing(sab).dataSize === 4096); // true: the data area follows the control page
 * ```
 */
export const CONTROL_PAGE_SIZE = 4096;
/**
 * Feature bit 0: the writer of this ring uses `pending_send_sz` (spec §1.2).
 *
 * @example
 * ```ts
 * import { ControlPage, FEATURE_PENDING_SEND_SIZE } from 'vmbus-kmcl/ring';
 * const sab = new SharedArrayBuffer(8192);
 * const control = ControlPage.initialize(sab, 0, { featureBits: FEATURE_PENDING_SEND_SIZE });
 * console.log((control.featureBits & FEATURE_PENDING_SEND_SIZE) !== 0); // true
 * ```
 */
export const FEATURE_PENDING_SEND_SIZE = 1;

// The u32 words of spec §1.2, by index: write_index 0, read_index 1,
// interrupt_mask 2, pending_send_sz 3, feature_bits 16. The accessors
// write them as literals: V8 11's optimized code loads and checks a module
// binding at every use (docs/performance.md, "Literals on the per-packet path").
const CONTROL_WORDS = 32;

/**
 * Initial values for {@link ControlPage.initialize}.
 *
 * @example
 * ```ts
 * import { ControlPage, type ControlPageInit } from 'vmbus-kmcl/ring';
 * const init: ControlPageInit = { writeIndex: 64, readIndex: 64, interruptMask: 1 };
 * const control = ControlPage.initialize(new SharedArrayBuffer(8192), 0, init);
 * console.log(control.writeIndex, control.interruptMask); // 64 1
 * ```
 */
export interface ControlPageInit {
  /** Write index, default 0. */
  writeIndex?: number;
  /** Read index, default 0. */
  readIndex?: number;
  /** Interrupt mask, default 0. */
  interruptMask?: number;
  /** Pending send size, default 0. */
  pendingSendSize?: number;
  /** Feature bits, default {@link FEATURE_PENDING_SEND_SIZE}. */
  featureBits?: number;
}

/**
 * Named accessors for the five control words of one ring.
 *
 * Each getter is one `Atomics.load` (sequentially consistent) and each setter
 * one `Atomics.store`; values are u32.
 *
 * @example
 * ```ts
 * import { ControlPage } from 'vmbus-kmcl/ring';
 * const page = new ControlPage(new SharedArrayBuffer(8192), 0);
 * page.interruptMask = 1;
 * console.log(page.writeIndex, page.interruptMask); // 0 1
 * ```
 */
export class ControlPage {
  private readonly words: Uint32Array;

  /**
   * @param buffer - memory holding the ring
   * @param byteOffset - offset of the control page in `buffer`, a multiple of 4
   * @throws RangeError when the page does not fit or is misaligned
   */
  constructor(buffer: ArrayBufferLike, byteOffset: number) {
    if (
      byteOffset % 4 !== 0 ||
      byteOffset < 0 ||
      byteOffset + CONTROL_PAGE_SIZE > buffer.byteLength
    ) {
      throw new RangeError(`Control page at byte offset ${byteOffset} does not fit the buffer`);
    }
    this.words = new Uint32Array(buffer, byteOffset, CONTROL_WORDS);
  }

  /**
   * Zeroes the whole control page, then sets the given fields. Used by the
   * side that creates a ring; the peer never calls it.
   *
   * @param buffer - memory holding the ring
   * @param byteOffset - offset of the control page in `buffer`
   * @param init - initial field values
   * @returns the control page
   */
  static initialize(
    buffer: ArrayBufferLike,
    byteOffset: number,
    init: ControlPageInit = {},
  ): ControlPage {
    const page = new ControlPage(buffer, byteOffset);
    new Uint8Array(buffer, byteOffset, CONTROL_PAGE_SIZE).fill(0);
    page.writeIndex = init.writeIndex ?? 0;
    page.readIndex = init.readIndex ?? 0;
    page.interruptMask = init.interruptMask ?? 0;
    page.pendingSendSize = init.pendingSendSize ?? 0;
    page.featureBits = init.featureBits ?? FEATURE_PENDING_SEND_SIZE;
    return page;
  }

  /** Data-area offset of the next packet the writer will write. */
  get writeIndex(): number {
    return Atomics.load(this.words, 0);
  }
  set writeIndex(value: number) {
    Atomics.store(this.words, 0, value);
  }

  /** Data-area offset of the next packet the reader will read. */
  get readIndex(): number {
    return Atomics.load(this.words, 1);
  }
  set readIndex(value: number) {
    Atomics.store(this.words, 1, value);
  }

  /** Non-zero while the reader drains: the writer must not signal. */
  get interruptMask(): number {
    return Atomics.load(this.words, 2);
  }
  set interruptMask(value: number) {
    Atomics.store(this.words, 2, value);
  }

  /** Free bytes the blocked writer waits for; 0 when it waits for nothing. */
  get pendingSendSize(): number {
    return Atomics.load(this.words, 3);
  }
  set pendingSendSize(value: number) {
    Atomics.store(this.words, 3, value);
  }

  /** Feature bits advertised by this ring's writer. */
  get featureBits(): number {
    return Atomics.load(this.words, 16);
  }
  set featureBits(value: number) {
    Atomics.store(this.words, 16, value);
  }
}
