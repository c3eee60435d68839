/**
 * Incoming packet tokens (`VMBPACKETCOMPLETION`): one per packet handed to
 * the process-packet callback, completed exactly once. Tokens are pooled by
 * their channel and reused, with their payload buffers, so receiving
 * allocates nothing in steady state.
 *
 * The payload and the GPA ranges of external data are copied out of the
 * ring when the packet is read, so the ring space is released at once and a
 * driver may complete the packet at any later time.
 *
 * @module
 */

import type { KmclChannel } from './kmcl-channel.js';

/**
 * Token states.
 *
 * @example
 * ```ts
 * import { createKmclPair, type IncomingState } from 'vmbus-kmcl';
 * const states: IncomingState[] = [];
 * const { client, dispose } = await createKmclPair({
 *   configureServer: (c) =>
 *     c.initSetProcessPacketCallbacks((ch, packet) => {
 *       states.push(packet.state); // delivering
 *       ch.completePacket(packet, null, 0);
 *     }),
 * });
 * await client.sendSynchronousRequest(new Uint8Array(8), 8, null, 1, null, null, null);
 * console.log(states); // [ 'delivering' ]
 * await dispose();
 * ```
 */
export type IncomingState = 'free' | 'delivering' | 'outstanding' | 'deferred' | 'completed';

/**
 * One received packet awaiting its completion.
 *
 * @example
 * ```ts
 * import { createKmclPair } from 'vmbus-kmcl';
 * const { client, dispose } = await createKmclPair({
 *   configureServer: (c) =>
 *     c.initSetProcessPacketCallbacks((ch, incoming, buffer, length) => {
 *       console.log(incoming.completionRequested, length); // true 8: payloads arrive padded to 8 bytes
 *       ch.completePacket(incoming, buffer, length); // echo the bytes back
 *     }),
 * });
 * const reply = new Uint8Array(8);
 * const size = { value: 8 };
 * await client.sendSynchronousRequest(new Uint8Array([5, 6]), 2, null, 1, reply, size, null);
 * await dispose();
 * ```
 */
export class KmclIncoming {
  /** The channel it arrived on. */
  readonly channel: KmclChannel;
  /** Its place among the channel's tokens (free tokens are kept by index). */
  readonly index: number;
  /** Payload bytes (the first `length` are the packet's). */
  buffer: Uint8Array;
  /** Payload length (padding included: the ring does not carry exact lengths). */
  length = 0;
  /** Process-packet flags (EXTERNAL_DATA). */
  flags = 0;
  /** Whether the sender wants a completion. */
  completionRequested = false;
  /** Transaction id halves, echoed in the completion. */
  idLow = 0;
  idHigh = 0;
  /** GPA ranges of external data: byteCount, byteOffset, PFN list offset and count per range. */
  rangeCount = 0;
  rangeByteCount: number[] = [];
  rangeByteOffset: number[] = [];
  rangePfns: number[][] = [];
  /**
   * The transfer page set id of a transfer-page packet (type 7), whose
   * ranges (byte offset and count in that set, no PFNs) are in
   * `rangeByteOffset`/`rangeByteCount`; -1 for any other packet.
   */
  transferPageSetId = -1;
  /** Times GetExternalData answered STATUS_PENDING for this packet. */
  pendingRetries = 0;
  /** The driver's per-packet context area (VmbChannelInitSetClientContextSize). */
  clientContext: Uint8Array;
  /** Current state. */
  state: IncomingState = 'free';
  /** Set by DeferToPassive during the callback. */
  deferRequested = false;

  /**
   * @param channel - the channel
   * @param capacity - payload bytes to reserve
   * @param contextSize - bytes of client context
   * @param index - its place among the channel's tokens
   */
  constructor(channel: KmclChannel, capacity: number, contextSize: number, index: number) {
    this.channel = channel;
    this.index = index;
    this.buffer = new Uint8Array(capacity);
    this.clientContext = new Uint8Array(contextSize);
  }

  /**
   * Makes room for a payload of `n` bytes (grows once, then reused).
   *
   * @param n - bytes
   */
  reserve(n: number): void {
    if (this.buffer.length < n) this.buffer = new Uint8Array(n);
  }
}
