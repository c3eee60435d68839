/**
 * The wire between a host and one guest partition: the simulated SynIC.
 * One `SharedArrayBuffer` holds a message ring in each direction (the
 * message path of spec vmbus-wire.md §3.1: ordered, payloads of at most 240
 * bytes), a bitmap of per-channel event flags in each direction (the SynIC
 * event flags: bit = channel id, §3.6), and a doorbell word per side that
 * counts every message and event sent to it (the SINT interrupt).
 *
 * ```
 *  0                      message ring guest -> host (4 KiB control + 16 KiB data)
 *  20 KiB                 message ring host -> guest
 *  40 KiB                 event page:
 *    word 0               guest doorbell (host rings it)
 *    word 1               host doorbell (guest rings it)
 *    word 2               link state: 0 up, 1 closed by host, 2 closed by guest
 *    words 4..5, 6..7     summaries: bit i set when flag word i (guest, host) may be non-zero
 *    words 16..79         flags for channels signalled to the guest (2048 bits)
 *    words 80..143        flags for channels signalled to the host
 * ```
 *
 * Messages travel as in-band ring packets whose transaction id is the exact
 * message length (the ring pads payloads to 8 bytes). A side that finds the
 * peer's message ring full queues the message and sends it when space frees.
 *
 * @module
 */

import { MAX_MESSAGE_SIZE } from '../protocol/channel-messages.js';
import { PACKET_TYPE_IN_BAND } from '../protocol/packet-descriptor.js';
import { ControlPage } from '../ring/control-page.js';
import { IncomingRing } from '../ring/incoming-ring.js';
import { OutgoingRing } from '../ring/outgoing-ring.js';
import { RingCorruptError } from '../ring/ring-error.js';
import { EventWord } from '../signal/event-word.js';

const RING_BYTES = 4096 + 16 * 4096;
const EVENT_OFFSET = 2 * RING_BYTES;
/**
 * Bytes of link memory.
 *
 * @example
 * ```ts
 * import { LINK_MEMORY_SIZE, createLinkMemory } from 'vmbus-kmcl';
 * console.log(createLinkMemory().byteLength === LINK_MEMORY_SIZE); // true
 * ```
 */
export const LINK_MEMORY_SIZE = EVENT_OFFSET + 4096;
/**
 * Channel ids that can be signalled: 1..2047 (bit 0 unused, as in openvmm).
 *
 * @example
 * ```ts
 * import { MAX_CHANNEL_ID } from 'vmbus-kmcl';
 * console.log(MAX_CHANNEL_ID); // 2047: relids above it have no event flag
 * ```
 */
export const MAX_CHANNEL_ID = 2047;

const GUEST_BELL = 0;
const HOST_BELL = 1;
const STATE = 2;
const GUEST_SUMMARY = 4;
const HOST_SUMMARY = 6;
const GUEST_FLAGS = 16;
const HOST_FLAGS = 80;
const FLAG_WORDS = 64;

/**
 * Which end of a link.
 *
 * @example
 * ```ts
 * import { LinkEndpoint, type LinkSide, createLinkMemory } from 'vmbus-kmcl';
 * const side: LinkSide = 'guest';
 * console.log(new LinkEndpoint(createLinkMemory(), side).side); // guest
 * ```
 */
export type LinkSide = 'host' | 'guest';

/**
 * Creates and initialises link memory for one partition.
 *
 * @returns the shared buffer to give both endpoints
 *
 * @example
 * ```ts
 * import { LinkEndpoint, createLinkMemory } from 'vmbus-kmcl';
 * const memory = createLinkMemory(); // share it with the other worker
 * const host = new LinkEndpoint(memory, 'host');
 * const guest = new LinkEndpoint(memory, 'guest');
 * guest.postMessage(new Uint8Array([1, 2, 3]));
 * guest.flush();
 * host.poll({ message: (m) => console.log(m.length), channel: () => {}, corrupt: () => {} }); // 3
 * ```
 */
export function createLinkMemory(): SharedArrayBuffer {
  const sab = new SharedArrayBuffer(LINK_MEMORY_SIZE);
  ControlPage.initialize(sab, 0);
  ControlPage.initialize(sab, RING_BYTES);
  return sab;
}

/**
 * What an endpoint found when it polled.
 *
 * @example
 * ```ts
 * import { type LinkHandlers, LinkEndpoint, createLinkMemory } from 'vmbus-kmcl';
 * const memory = createLinkMemory();
 * const handlers: LinkHandlers = {
 *   message: (bytes) => console.log('message of', bytes.length),
 *   channel: (relid) => console.log('event on', relid),
 *   corrupt: (error) => console.log('damaged link:', error.code),
 * };
 * new LinkEndpoint(memory, 'guest').poll(handlers); // nothing yet
 * ```
 */
export interface LinkHandlers {
  /** One message from the peer (the bytes are a private copy). */
  message(bytes: Uint8Array): void;
  /** The peer signalled channel `relid`. */
  channel(relid: number): void;
  /** The peer's message ring is damaged: the link is unusable. */
  corrupt(error: RingCorruptError): void;
}

/**
 * One side of a link: sends messages and channel signals to the peer, and
 * polls for the peer's.
 *
 * @example
 * ```ts
 * import { LinkEndpoint, createLinkMemory } from 'vmbus-kmcl';
 * const memory = createLinkMemory();
 * const host = new LinkEndpoint(memory, 'host');
 * const guest = new LinkEndpoint(memory, 'guest');
 * host.signalChannel(7);
 * host.flush();
 * guest.poll({ message: () => {}, channel: (relid) => console.log('event on', relid), corrupt: () => {} }); // event on 7
 * ```
 */
export class LinkEndpoint {
  /** This side. */
  readonly side: LinkSide;
  /** The shared link memory. */
  readonly memory: SharedArrayBuffer;
  /** Messages sent. */
  messagesSent = 0;
  /** Messages received. */
  messagesReceived = 0;
  /** This side's doorbell: the peer rings it. */
  readonly doorbell: EventWord;
  private readonly peerBell: EventWord;
  private readonly words: Int32Array;
  private readonly out: OutgoingRing;
  private readonly in: IncomingRing;
  private readonly inFlags: number;
  private readonly outFlags: number;
  private readonly inSummary: number;
  private readonly outSummary: number;
  private readonly queue: Uint8Array[] = [];
  private readonly scratch = new Uint8Array(MAX_MESSAGE_SIZE + 8);

  /**
   * @param memory - from {@link createLinkMemory}
   * @param side - which end this is
   * @throws RangeError when the shared memory is not LINK_MEMORY_SIZE bytes
   */
  constructor(memory: SharedArrayBuffer, side: LinkSide) {
    if (memory.byteLength !== LINK_MEMORY_SIZE) {
      throw new RangeError(`Link memory is ${memory.byteLength} bytes, not ${LINK_MEMORY_SIZE}`);
    }
    this.side = side;
    this.memory = memory;
    this.words = new Int32Array(memory, EVENT_OFFSET, 1024);
    const toHost = [0, RING_BYTES] as const;
    const toGuest = [RING_BYTES, RING_BYTES] as const;
    const [outAt, inAt] = side === 'guest' ? [toHost, toGuest] : [toGuest, toHost];
    this.out = new OutgoingRing(memory, outAt[0], outAt[1]);
    this.in = new IncomingRing(memory, inAt[0], inAt[1]);
    this.doorbell = new EventWord(this.words, side === 'guest' ? GUEST_BELL : HOST_BELL);
    this.peerBell = new EventWord(this.words, side === 'guest' ? HOST_BELL : GUEST_BELL);
    this.inFlags = side === 'guest' ? GUEST_FLAGS : HOST_FLAGS;
    this.outFlags = side === 'guest' ? HOST_FLAGS : GUEST_FLAGS;
    this.inSummary = side === 'guest' ? GUEST_SUMMARY : HOST_SUMMARY;
    this.outSummary = side === 'guest' ? HOST_SUMMARY : GUEST_SUMMARY;
  }

  /** Whether either side closed the link. */
  get closed(): boolean {
    return Atomics.load(this.words, STATE) !== 0;
  }

  /** Messages waiting for space in the peer's message ring. */
  get queuedMessages(): number {
    return this.queue.length;
  }

  /**
   * Sends one message (queued in order if the ring is full).
   *
   * @param bytes - the message, at most 240 bytes
   * @throws RangeError when the message is longer than 240 bytes
   */
  postMessage(bytes: Uint8Array): void {
    if (bytes.length > MAX_MESSAGE_SIZE)
      throw new RangeError(`Message of ${bytes.length} bytes exceeds 240`);
    if (this.closed) return;
    this.queue.push(bytes);
    this.flush();
  }

  /**
   * Sends queued messages while they fit.
   *
   * @returns true when the queue is empty
   */
  flush(): boolean {
    let sent = 0;
    while (this.queue.length > 0) {
      const m = this.queue[0]!;
      if (!this.out.write(PACKET_TYPE_IN_BAND, 0, m.length, m)) {
        this.out.requestSpace(this.out.bytesNeeded);
        break;
      }
      this.queue.shift();
      sent++;
    }
    if (sent > 0) {
      this.messagesSent += sent;
      this.out.commitWrite();
      // The peer drains messages on every doorbell, so always ring it.
      this.peerBell.signal();
    }
    return this.queue.length === 0;
  }

  /**
   * Signals channel `relid` to the peer: sets its event flag, then rings
   * the peer's doorbell.
   *
   * @param relid - channel id, 1..2047
   */
  signalChannel(relid: number): void {
    const word = relid >>> 5;
    Atomics.or(this.words, this.outFlags + word, 1 << (relid & 31));
    // The summary bit after the flag: a reader that clears the summary then the flag word misses nothing.
    Atomics.or(this.words, this.outSummary + (word >>> 5), 1 << (word & 31));
    this.peerBell.signal();
  }

  /**
   * Handles everything the peer sent since the last poll: messages first,
   * in order, then channel events.
   *
   * @param handlers - receivers
   * @returns true when anything was found
   */
  poll(handlers: LinkHandlers): boolean {
    let found = false;
    try {
      for (let p = this.in.read(); p !== null; p = this.in.read()) {
        const length = p.transactionIdHigh === 0 ? p.transactionIdLow : MAX_MESSAGE_SIZE + 1;
        if (length > MAX_MESSAGE_SIZE || length > p.payloadLength) {
          // A length the payload cannot hold: hand over a message too long to parse.
          handlers.message(new Uint8Array(MAX_MESSAGE_SIZE + 1));
        } else {
          p.copyPayload(this.scratch, 0, length);
          handlers.message(this.scratch.slice(0, length));
        }
        this.messagesReceived++;
        found = true;
      }
      if (this.in.commitRead()) this.peerBell.signal();
    } catch (e) {
      if (!(e instanceof RingCorruptError)) throw e;
      handlers.corrupt(e);
      return true;
    }
    for (let s = 0; s < FLAG_WORDS >>> 5; s++) {
      // A plain load first: the locked exchange only when a bit is set.
      let summary =
        Atomics.load(this.words, this.inSummary + s) === 0
          ? 0
          : Atomics.exchange(this.words, this.inSummary + s, 0);
      while (summary !== 0) {
        const i = s * 32 + 31 - Math.clz32(summary & -summary);
        summary &= summary - 1;
        let bits = Atomics.exchange(this.words, this.inFlags + i, 0);
        while (bits !== 0) {
          const bit = 31 - Math.clz32(bits & -bits);
          bits &= bits - 1;
          const relid = i * 32 + bit;
          if (relid !== 0) handlers.channel(relid);
          found = true;
        }
      }
    }
    if (this.queue.length > 0) this.flush();
    return found;
  }

  /**
   * Closes the link from this side and wakes the peer.
   */
  close(): void {
    Atomics.compareExchange(this.words, STATE, 0, this.side === 'host' ? 1 : 2);
    this.peerBell.signal();
    this.doorbell.signal();
  }
}
