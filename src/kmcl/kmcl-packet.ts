/**
 * Outgoing packet objects (`VMBPACKET`): one transaction each, for its whole
 * life. A packet lives either in memory the library owns
 * (`VmbPacketAllocate`) or in memory the caller owns (`VmbPacketInitialize`:
 * the reason this library exists, so a driver can send from a pool without
 * allocating). Both kinds behave the same after creation.
 *
 * The packet's memory starts with a 48-byte header that marks it as a
 * packet of a channel, followed by room for a copy of the largest inline
 * payload (used when the packet must wait for ring space). The per-send
 * state (state, send flags, transaction slot and generation) is kept on the
 * object: it changes on every send and completion, and plain fields cost
 * less than typed-array words on that path.
 *
 * ```
 *  0   u32 magic 0x504d4256 ('VBMP')     16..27  reserved (0)
 *  4   u32 reserved (0)                   28  u32 payload offset (0: none)
 *  8   u32 channel serial                 32..47 reserved
 *  12  u32 inline payload length
 *  48  payload copy, up to the channel's maximum packet size
 * ```
 *
 * @module
 */

import type { MemoryDescriptor } from '../memory/memory-descriptor.js';
import type { KmclChannel } from './kmcl-channel.js';

/**
 * Bytes of the packet header in packet memory.
 *
 * @example
 * ```ts
 * import { PACKET_HEADER_SIZE, createKmclPair, VmbChannelSizeofPacket } from 'vmbus-kmcl';
 * const { client, dispose } = await createKmclPair();
 * console.log(VmbChannelSizeofPacket(client) === PACKET_HEADER_SIZE + client.maximumPacketSize); // true
 * await dispose();
 * ```
 */
export const PACKET_HEADER_SIZE = 48;
const MAGIC = 0x504d4256;

/**
 * The property by which a packet's handle leads to its packet object. A
 * caller-memory packet lives in the caller's buffer (VmbPacketInitialize),
 * so the buffer object carries it under this symbol, as a Windows packet
 * object sits in the memory the driver gave; a library-owned packet
 * carries itself. One property load finds the packet on every send, with
 * no lookup table and no per-packet store.
 */
export const PACKET_OBJECT: unique symbol = Symbol('vmbus-kmcl packet object');

/**
 * Packet states ({@link KmclPacket.state}).
 *
 * @example
 * ```ts
 * import { PACKET_STATE, createKmclPair } from 'vmbus-kmcl';
 * const { client, dispose } = await createKmclPair();
 * const packet = client.allocatePacket();
 * console.log(packet.state === PACKET_STATE.IDLE); // true
 * await dispose();
 * ```
 */
export const PACKET_STATE = { IDLE: 0, QUEUED: 1, AWAITING_COMPLETION: 2 } as const;

/**
 * `EVT_VMB_PACKET_COMPLETION_ROUTINE`: the packet's transaction is done.
 * With WAIT_FOR_COMPLETION the buffer holds the peer's completion bytes
 * (valid during the call); without, the packet was written to the ring.
 *
 * @example
 * ```ts
 * import { createKmclPair, type PacketCompletionRoutine } from 'vmbus-kmcl';
 * const { client, dispose } = await createKmclPair();
 * const routine: PacketCompletionRoutine = (packet, status) => {
 *   console.log('status', status); // status 0
 *   packet.channel.freePacket(packet);
 * };
 * const packet = client.allocatePacket();
 * packet.completionRoutine = routine;
 * client.send(packet, new Uint8Array(8), 8, null, 0); // without WAIT: completes once in the ring
 * await dispose();
 * ```
 */
export type PacketCompletionRoutine = (
  packet: KmclPacket,
  status: number,
  buffer: Uint8Array,
  bufferLength: number,
) => void;

/**
 * A completion routine that receives the packet's handle (the memory given
 * to VmbPacketInitialize, or the packet itself) instead of the packet
 * object: the facade's `EVT_VMB_PACKET_COMPLETION_ROUTINE`.
 *
 * @example
 * ```ts
 * import { createKmclPair, type DriverCompletionRoutine, VmbPacketSetCompletionRoutine } from 'vmbus-kmcl';
 * const { client, dispose } = await createKmclPair();
 * const routine: DriverCompletionRoutine = (handle, status) => console.log(status);
 * const packet = client.allocatePacket();
 * VmbPacketSetCompletionRoutine(packet, routine);
 * console.log(packet.driverRoutine === routine); // true
 * await dispose();
 * ```
 */
export type DriverCompletionRoutine = (
  handle: object,
  status: number,
  buffer: Uint8Array,
  bufferLength: number,
) => void;

/**
 * External data of a send: an MDL chain, or PFNs.
 *
 * @example
 * ```ts
 * import { createKmclPair, type ExternalData, MemoryDescriptor } from 'vmbus-kmcl';
 * const { bus, client, dispose } = await createKmclPair();
 * const mdl = new MemoryDescriptor(bus.memory, bus.guest.pages.allocate(1), 0, 4096);
 * const external: ExternalData = { kind: 'mdl', chain: [mdl], offset: 0, length: 4096, forceLength: false };
 * const packet = client.allocatePacket();
 * const done = new Promise<number>((resolve) => {
 *   packet.completionRoutine = (_p, status) => resolve(status);
 * });
 * client.send(packet, new Uint8Array(8), 8, external, 1);
 * console.log(await done); // 0
 * await dispose();
 * ```
 */
export type ExternalData =
  | {
      kind: 'mdl';
      chain: readonly MemoryDescriptor[];
      offset: number;
      length: number;
      forceLength: boolean;
    }
  | { kind: 'pfns'; pfns: readonly number[]; count: number }
  | {
      /**
       * A transfer-page packet (type 7, spec vmbus-wire §2): ranges of a
       * buffer the receiver shared earlier (netvsc's receive buffer), named
       * by its transfer page set id. An extension of this library: the
       * KMCL has no public routine for it; hosts use it to deliver frames.
       * The first `count` entries of `byteCount`/`byteOffset` are sent, so
       * a caller can reuse one object and its arrays for every send.
       */
      kind: 'transfer-pages';
      setId: number;
      count: number;
      byteCount: ArrayLike<number>;
      byteOffset: ArrayLike<number>;
    };

/**
 * One outgoing packet object.
 *
 * @example
 * ```ts
 * import { createKmclPair } from 'vmbus-kmcl';
 * const { client, dispose } = await createKmclPair();
 * const packet = client.allocatePacket(); // a KmclPacket owned by the library
 * packet.pointer = 'request 1';
 * const done = new Promise<number>((resolve) => {
 *   packet.completionRoutine = (p, status) => {
 *     console.log(p.pointer, status); // request 1 0
 *     resolve(status);
 *   };
 * });
 * client.send(packet, new Uint8Array(4), 4, null, 1);
 * await done;
 * await dispose();
 * ```
 */
export class KmclPacket {
  /** The channel the packet belongs to. */
  readonly channel: KmclChannel;
  /** Whether the library owns the memory (VmbPacketAllocate). */
  readonly libraryOwned: boolean;
  /** The packet's memory: header, then the payload copy area. */
  readonly memory: Uint8Array;
  /** The driver's pointer (VmbPacketSetPointer). */
  pointer: unknown = null;
  /** The handle the driver knows the packet by (its own buffer, for VmbPacketInitialize). */
  handle: object = this;
  /** A library-owned packet is its own handle: the handle's {@link PACKET_OBJECT} is the packet. */
  readonly [PACKET_OBJECT]: KmclPacket = this;
  /** The completion routine; null on a freshly initialised caller-memory packet. */
  completionRoutine: PacketCompletionRoutine | null = null;
  /** The driver's routine set through the facade (called by `completionRoutine` with the handle). */
  driverRoutine: DriverCompletionRoutine | null = null;
  /** The external data of the current send, if any. */
  external: ExternalData | null = null;
  /** The inline payload of a send that had to be queued (a view of the copy area). */
  queuedPayload: Uint8Array | null = null;
  /** Whether the packet was freed (library-owned) and may not be used. */
  freed = false;
  /** Whether the packet carries a VmbChannelSendSynchronousRequest (cancelled when the channel closes). */
  synchronous = false;
  private readonly words: Uint32Array;

  /**
   * @param channel - its channel
   * @param memory - at least the channel's packet size, 4-aligned
   * @param libraryOwned - true for VmbPacketAllocate
   */
  constructor(channel: KmclChannel, memory: Uint8Array, libraryOwned: boolean) {
    this.channel = channel;
    this.memory = memory;
    this.libraryOwned = libraryOwned;
    this.words = new Uint32Array(memory.buffer, memory.byteOffset, PACKET_HEADER_SIZE >>> 2);
    this.words.fill(0);
    this.words[0] = MAGIC;
    this.words[2] = channel.serial;
  }

  /** Packet state ({@link PACKET_STATE}). */
  state: number = PACKET_STATE.IDLE;
  /** Send flags of the current transaction. */
  sendFlags = 0;
  /** Transaction slot + 1 while the packet waits for a completion; 0 otherwise. */
  slot = 0;
  /** Generation of the current transaction (the transaction id's high half). */
  generation = 0;

  /** Whether the packet is queued or waiting for its completion. */
  get inFlight(): boolean {
    return this.state !== 0; // PACKET_STATE.IDLE, a literal on the per-packet path
  }

  /**
   * Copies a payload into the packet's own memory (a send that must wait).
   *
   * @param payload - inline bytes, at most the channel's maximum packet size
   * @returns a view of the copy
   */
  holdPayload(payload: Uint8Array): Uint8Array {
    const view = this.memory.subarray(PACKET_HEADER_SIZE, PACKET_HEADER_SIZE + payload.length);
    view.set(payload);
    this.words[3] = payload.length;
    this.words[7] = PACKET_HEADER_SIZE;
    this.queuedPayload = view;
    return view;
  }

  /**
   * Whether `memory` holds a packet header written by this library.
   *
   * @param memory - candidate packet memory
   * @returns true when the magic word is there
   */
  static isPacketMemory(memory: Uint8Array): boolean {
    if (memory.byteLength < PACKET_HEADER_SIZE || memory.byteOffset % 4 !== 0) return false;
    return new Uint32Array(memory.buffer, memory.byteOffset, 1)[0] === MAGIC;
  }
}
