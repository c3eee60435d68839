/**
 * VMBus channel messages: the control plane (spec vmbus-wire.md §3.1-3.3),
 * described once as a table from which the types, the encoder, the parser
 * and every size check are derived.
 *
 * Every message starts with `u32 msgtype @0, u32 padding @4` and is at most
 * 240 bytes. A message is accepted only when it is long enough for its
 * type, sent by the side that may send it, and allowed at the negotiated
 * protocol version (and feature flags); anything else is a
 * {@link ChannelMessageError}, never a half-parsed message.
 *
 * @module
 */

import { VmbusError } from '../status/vmbus-error.js';
import { type Guid, NIL_GUID, readGuid, writeGuid } from './guid.js';
import { VMBUS_FEATURE, VMBUS_VERSION } from './versions.js';

/**
 * Largest VMBus message, header included (the SynIC payload size).
 *
 * @example
 * ```ts
 * import { MAX_MESSAGE_SIZE, encodeChannelMessage } from 'vmbus-kmcl/protocol';
 * console.log(encodeChannelMessage('OfferChannel', {}).length <= MAX_MESSAGE_SIZE); // true
 * ```
 */
export const MAX_MESSAGE_SIZE = 240;
/**
 * Bytes of the message header (`msgtype`, padding).
 *
 * @example
 * ```ts
 * import { MESSAGE_HEADER_SIZE, encodeChannelMessage } from 'vmbus-kmcl/protocol';
 * console.log(encodeChannelMessage('RequestOffers').length === MESSAGE_HEADER_SIZE); // true: a header and nothing else
 * ```
 */
export const MESSAGE_HEADER_SIZE = 8;

/**
 * Wire kinds of fields. `tail` is every byte from its offset to the end.
 *
 * @example
 * ```ts
 * import { CHANNEL_MESSAGES, type FieldKind } from 'vmbus-kmcl/protocol';
 * const kind: FieldKind = CHANNEL_MESSAGES.OfferChannel.fields.interfaceType[1];
 * console.log(kind); // guid
 * ```
 */
export type FieldKind =
  | 'u8'
  | 'u16'
  | 'u32'
  | 'i32'
  | 'u64'
  | 'guid'
  | 'bytes16'
  | 'bytes120'
  | 'tail';

/**
 * The side that sends a message.
 *
 * @example
 * ```ts
 * import { type MessageSender, encodeChannelMessage, parseChannelMessage } from 'vmbus-kmcl/protocol';
 * const receiver: MessageSender = 'host'; // RequestOffers travels guest to host
 * console.log(parseChannelMessage(encodeChannelMessage('RequestOffers'), receiver, { version: 0x50003, features: 0 }).type); // RequestOffers
 * ```
 */
export type MessageSender = 'host' | 'guest';

interface MessageSpec {
  readonly id: number;
  readonly from: MessageSender;
  /** Full size (header included). */
  readonly size: number;
  /** Shortest size accepted (older or feature-less variants). */
  readonly minSize: number;
  /** Lowest protocol version the message is allowed at (0: any, even before negotiation). */
  readonly minVersion: number;
  /** Copper feature flag the message needs, if any. */
  readonly feature?: number;
  readonly fields: Readonly<Record<string, readonly [number, FieldKind]>>;
}

const V1 = VMBUS_VERSION.WS2008;
const COPPER = VMBUS_VERSION.COPPER;

/**
 * The table: number, sender, size, minimum size, minimum version, feature
 * condition and field offsets of every channel message of spec §3.2-3.3.
 *
 * @example
 * ```ts
 * import { CHANNEL_MESSAGES } from 'vmbus-kmcl/protocol';
 * const open = CHANNEL_MESSAGES.OpenChannel;
 * console.log(open.id === 5, open.from === 'guest'); // true true
 * ```
 */
export const CHANNEL_MESSAGES = {
  OfferChannel: {
    id: 1,
    from: 'host',
    size: 196,
    minSize: 190,
    minVersion: V1,
    fields: {
      interfaceType: [8, 'guid'],
      interfaceInstance: [24, 'guid'],
      reserved: [40, 'bytes16'],
      flags: [56, 'u16'],
      mmioMegabytes: [58, 'u16'],
      userDefined: [60, 'bytes120'],
      subchannelIndex: [180, 'u16'],
      mmioMegabytesOptional: [182, 'u16'],
      childRelid: [184, 'u32'],
      monitorId: [188, 'u8'],
      monitorAllocated: [189, 'u8'],
      isDedicatedInterrupt: [190, 'u16'],
      connectionId: [192, 'u32'],
    },
  },
  RescindChannelOffer: {
    id: 2,
    from: 'host',
    size: 12,
    minSize: 12,
    minVersion: V1,
    fields: { childRelid: [8, 'u32'] },
  },
  RequestOffers: { id: 3, from: 'guest', size: 8, minSize: 8, minVersion: V1, fields: {} },
  AllOffersDelivered: { id: 4, from: 'host', size: 8, minSize: 8, minVersion: V1, fields: {} },
  OpenChannel: {
    id: 5,
    from: 'guest',
    size: 156,
    minSize: 148,
    minVersion: V1,
    fields: {
      childRelid: [8, 'u32'],
      openId: [12, 'u32'],
      ringBufferGpadlHandle: [16, 'u32'],
      targetVp: [20, 'u32'],
      downstreamRingBufferPageOffset: [24, 'u32'],
      userData: [28, 'bytes120'],
      connectionId: [148, 'u32'],
      eventFlag: [152, 'u16'],
      flags: [154, 'u16'],
    },
  },
  OpenChannelResult: {
    id: 6,
    from: 'host',
    size: 20,
    minSize: 20,
    minVersion: V1,
    fields: { childRelid: [8, 'u32'], openId: [12, 'u32'], status: [16, 'u32'] },
  },
  CloseChannel: {
    id: 7,
    from: 'guest',
    size: 12,
    minSize: 12,
    minVersion: V1,
    fields: { childRelid: [8, 'u32'] },
  },
  GpadlHeader: {
    id: 8,
    from: 'guest',
    size: 20,
    minSize: 20,
    minVersion: V1,
    fields: {
      childRelid: [8, 'u32'],
      gpadl: [12, 'u32'],
      rangeBufferLength: [16, 'u16'],
      rangeCount: [18, 'u16'],
      data: [20, 'tail'],
    },
  },
  GpadlBody: {
    id: 9,
    from: 'guest',
    size: 16,
    minSize: 16,
    minVersion: V1,
    fields: { messageNumber: [8, 'u32'], gpadl: [12, 'u32'], data: [16, 'tail'] },
  },
  GpadlCreated: {
    id: 10,
    from: 'host',
    size: 20,
    minSize: 20,
    minVersion: V1,
    fields: { childRelid: [8, 'u32'], gpadl: [12, 'u32'], status: [16, 'u32'] },
  },
  GpadlTeardown: {
    id: 11,
    from: 'guest',
    size: 16,
    minSize: 16,
    minVersion: V1,
    fields: { childRelid: [8, 'u32'], gpadl: [12, 'u32'] },
  },
  GpadlTorndown: {
    id: 12,
    from: 'host',
    size: 12,
    minSize: 12,
    minVersion: V1,
    fields: { gpadl: [8, 'u32'] },
  },
  RelidReleased: {
    id: 13,
    from: 'guest',
    size: 12,
    minSize: 12,
    minVersion: V1,
    fields: { childRelid: [8, 'u32'] },
  },
  InitiateContact: {
    id: 14,
    from: 'guest',
    size: 56,
    minSize: 40,
    minVersion: 0,
    fields: {
      versionRequested: [8, 'u32'],
      targetMessageVp: [12, 'u32'],
      interruptPageOrTarget: [16, 'u64'],
      parentToChildMonitorPage: [24, 'u64'],
      childToParentMonitorPage: [32, 'u64'],
      clientId: [40, 'guid'],
    },
  },
  VersionResponse: {
    id: 15,
    from: 'host',
    size: 40,
    minSize: 16,
    minVersion: 0,
    fields: {
      versionSupported: [8, 'u8'],
      connectionState: [9, 'u8'],
      selectedVersionOrConnectionId: [12, 'u32'],
      supportedFeatures: [16, 'u32'],
      parentToChildMonitorPage: [24, 'u64'],
      childToParentMonitorPage: [32, 'u64'],
    },
  },
  Unload: { id: 16, from: 'guest', size: 8, minSize: 8, minVersion: V1, fields: {} },
  UnloadResponse: {
    id: 17,
    from: 'host',
    size: 8,
    minSize: 8,
    minVersion: VMBUS_VERSION.WIN7,
    fields: {},
  },
  OpenReservedChannel: {
    id: 18,
    from: 'guest',
    size: 28,
    minSize: 28,
    minVersion: VMBUS_VERSION.WIN10,
    fields: {
      channelId: [8, 'u32'],
      targetVp: [12, 'u32'],
      targetSint: [16, 'u32'],
      ringBufferGpadl: [20, 'u32'],
      downstreamPageOffset: [24, 'u32'],
    },
  },
  CloseReservedChannel: {
    id: 19,
    from: 'guest',
    size: 20,
    minSize: 20,
    minVersion: 0,
    fields: { channelId: [8, 'u32'], targetVp: [12, 'u32'], targetSint: [16, 'u32'] },
  },
  CloseReservedResponse: {
    id: 20,
    from: 'host',
    size: 12,
    minSize: 12,
    minVersion: VMBUS_VERSION.WIN10,
    fields: { channelId: [8, 'u32'] },
  },
  TlConnectRequest: {
    id: 21,
    from: 'guest',
    size: 56,
    minSize: 40,
    minVersion: VMBUS_VERSION.WIN10,
    fields: { endpointId: [8, 'guid'], serviceId: [24, 'guid'], siloId: [40, 'guid'] },
  },
  ModifyChannel: {
    id: 22,
    from: 'guest',
    size: 16,
    minSize: 16,
    minVersion: VMBUS_VERSION.WIN10_V4_1,
    fields: { childRelid: [8, 'u32'], targetVp: [12, 'u32'] },
  },
  TlConnectResult: {
    id: 23,
    from: 'host',
    size: 44,
    minSize: 44,
    minVersion: VMBUS_VERSION.WIN10_V4_1,
    fields: { endpointId: [8, 'guid'], serviceId: [24, 'guid'], status: [40, 'i32'] },
  },
  ModifyChannelResponse: {
    id: 24,
    from: 'host',
    size: 16,
    minSize: 16,
    minVersion: VMBUS_VERSION.WIN10_V5_3,
    fields: { childRelid: [8, 'u32'], status: [12, 'i32'] },
  },
  ModifyConnection: {
    id: 25,
    from: 'guest',
    size: 24,
    minSize: 24,
    minVersion: COPPER,
    feature: VMBUS_FEATURE.MODIFY_CONNECTION,
    fields: { parentToChildMonitorPage: [8, 'u64'], childToParentMonitorPage: [16, 'u64'] },
  },
  ModifyConnectionResponse: {
    id: 26,
    from: 'host',
    size: 9,
    minSize: 9,
    minVersion: COPPER,
    feature: VMBUS_FEATURE.MODIFY_CONNECTION,
    fields: { connectionState: [8, 'u8'] },
  },
  Pause: {
    id: 27,
    from: 'guest',
    size: 8,
    minSize: 8,
    minVersion: COPPER,
    feature: VMBUS_FEATURE.PAUSE_RESUME,
    fields: {},
  },
  PauseResponse: {
    id: 28,
    from: 'host',
    size: 8,
    minSize: 8,
    minVersion: COPPER,
    feature: VMBUS_FEATURE.PAUSE_RESUME,
    fields: {},
  },
  Resume: {
    id: 29,
    from: 'guest',
    size: 8,
    minSize: 8,
    minVersion: COPPER,
    feature: VMBUS_FEATURE.PAUSE_RESUME,
    fields: {},
  },
} as const satisfies Record<string, MessageSpec>;

/**
 * Name of a channel message type, such as `OpenChannel`.
 *
 * @example
 * ```ts
 * import { CHANNEL_MESSAGES, type ChannelMessageName } from 'vmbus-kmcl/protocol';
 * const name: ChannelMessageName = 'GpadlHeader';
 * console.log(CHANNEL_MESSAGES[name].id); // 8
 * ```
 */
export type ChannelMessageName = keyof typeof CHANNEL_MESSAGES;

type FieldsOf<N extends ChannelMessageName> = (typeof CHANNEL_MESSAGES)[N]['fields'];
type ValueOf<K extends FieldKind> = K extends 'u64'
  ? bigint
  : K extends 'guid'
    ? Guid
    : K extends 'bytes16' | 'bytes120' | 'tail'
      ? Uint8Array
      : number;

/**
 * The fields of one message type, decoded.
 *
 * @example
 * ```ts
 * import { type ChannelMessageFields, encodeChannelMessage } from 'vmbus-kmcl/protocol';
 * const fields: Partial<ChannelMessageFields<'CloseChannel'>> = { childRelid: 9 };
 * console.log(encodeChannelMessage('CloseChannel', fields)[8]); // 9
 * ```
 */
export type ChannelMessageFields<N extends ChannelMessageName> = {
  -readonly [F in keyof FieldsOf<N>]: FieldsOf<N>[F] extends readonly [
    number,
    infer K extends FieldKind,
  ]
    ? ValueOf<K>
    : never;
};

/**
 * A parsed channel message: a discriminated union on `type`. Fields beyond
 * the received length (the newer parts of a shorter variant) read as zero;
 * `byteLength` says how long the message was.
 *
 * @example
 * ```ts
 * import { type ChannelMessage, encodeChannelMessage, parseChannelMessage } from 'vmbus-kmcl/protocol';
 * const m: ChannelMessage = parseChannelMessage(encodeChannelMessage('RescindChannelOffer', { childRelid: 3 }), 'guest', { version: 0x50003, features: 0 });
 * if (m.type === 'RescindChannelOffer') console.log(m.childRelid); // 3: narrowed by `type`
 * ```
 */
export type ChannelMessage = {
  [N in ChannelMessageName]: { type: N; byteLength: number } & ChannelMessageFields<N>;
}[ChannelMessageName];

/**
 * Message names by wire number (index 0, INVALID, is undefined).
 *
 * @example
 * ```ts
 * import { MESSAGE_NAMES } from 'vmbus-kmcl/protocol';
 * console.log(MESSAGE_NAMES[3] === 'RequestOffers'); // true
 * ```
 */
export const MESSAGE_NAMES: readonly (ChannelMessageName | undefined)[] = (() => {
  const names: (ChannelMessageName | undefined)[] = [];
  for (const [name, spec] of Object.entries(CHANNEL_MESSAGES))
    names[spec.id] = name as ChannelMessageName;
  return names;
})();

/**
 * Stable codes of the message checks.
 *
 * @example
 * ```ts
 * import { ChannelMessageError, type ChannelMessageErrorCode, parseChannelMessage } from 'vmbus-kmcl/protocol';
 * let code: ChannelMessageErrorCode | null = null;
 * try {
 *   parseChannelMessage(Uint8Array.of(99, 0, 0, 0, 0, 0, 0, 0), 'guest', { version: 0x50003, features: 0 });
 * } catch (e) {
 *   if (e instanceof ChannelMessageError) code = e.code;
 * }
 * console.log(code); // VMBUS_MESSAGE_UNKNOWN_TYPE
 * ```
 */
export type ChannelMessageErrorCode =
  | 'VMBUS_MESSAGE_TOO_SHORT'
  | 'VMBUS_MESSAGE_TOO_LONG'
  | 'VMBUS_MESSAGE_UNKNOWN_TYPE'
  | 'VMBUS_MESSAGE_WRONG_SENDER'
  | 'VMBUS_MESSAGE_NOT_ALLOWED';

/**
 * A channel message that must be rejected whole.
 *
 * @example
 * ```ts
 * import { ChannelMessageError, parseChannelMessage } from 'vmbus-kmcl/protocol';
 * try {
 *   parseChannelMessage(new Uint8Array(4), 'host', { version: 0x50003, features: 0 }); // shorter than a header
 * } catch (e) {
 *   if (e instanceof ChannelMessageError) console.log(e.code);
 * }
 * ```
 */
export class ChannelMessageError extends VmbusError {
  declare readonly code: ChannelMessageErrorCode;
  /** The message type number, when the header could be read. */
  readonly messageType: number;

  /**
   * @param code - the failed check
   * @param reason - a sentence quoting the values
   * @param messageType - the type number, or -1
   */
  constructor(code: ChannelMessageErrorCode, reason: string, messageType: number) {
    super(code, reason);
    this.name = 'ChannelMessageError';
    this.messageType = messageType;
  }
}

/**
 * What the receiver has negotiated, for the version and feature checks.
 *
 * @example
 * ```ts
 * import { type MessageContext, encodeChannelMessage, parseChannelMessage } from 'vmbus-kmcl/protocol';
 * const context: MessageContext = { version: 0x50003, features: 0 }; // what was negotiated
 * console.log(parseChannelMessage(encodeChannelMessage('AllOffersDelivered'), 'guest', context).type); // AllOffersDelivered
 * ```
 */
export interface MessageContext {
  /** Negotiated version; 0 before negotiation. */
  version: number;
  /** Negotiated Copper feature flags. */
  features: number;
}

/**
 * Parses and checks one channel message.
 *
 * @param bytes - the message, header included
 * @param receiver - the side receiving it (the other side must be its sender)
 * @param context - negotiated version and features
 * @returns the message (allocates)
 * @throws ChannelMessageError when the message is too short or long, of an
 *   unknown type, from the wrong side, or not allowed at this version
 * @example
 * ```ts
 * import { encodeChannelMessage, parseChannelMessage } from 'vmbus-kmcl/protocol';
 * const bytes = encodeChannelMessage('CloseChannel', { childRelid: 5 });
 * const m = parseChannelMessage(bytes, 'host', { version: 0x50003, features: 0 });
 * if (m.type === 'CloseChannel') console.log(m.childRelid); // 5
 * ```
 */
export function parseChannelMessage(
  bytes: Uint8Array,
  receiver: MessageSender,
  context: MessageContext,
): ChannelMessage {
  if (bytes.length > MAX_MESSAGE_SIZE) {
    throw new ChannelMessageError(
      'VMBUS_MESSAGE_TOO_LONG',
      `Message of ${bytes.length} bytes is longer than ${MAX_MESSAGE_SIZE}`,
      -1,
    );
  }
  if (bytes.length < MESSAGE_HEADER_SIZE) {
    throw new ChannelMessageError(
      'VMBUS_MESSAGE_TOO_SHORT',
      `Message of ${bytes.length} bytes has no header`,
      -1,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const id = view.getUint32(0, true);
  const name = MESSAGE_NAMES[id];
  if (name === undefined) {
    throw new ChannelMessageError(
      'VMBUS_MESSAGE_UNKNOWN_TYPE',
      `Message type ${id} is not a channel message`,
      id,
    );
  }
  const spec: MessageSpec = CHANNEL_MESSAGES[name];
  if (spec.from === receiver) {
    throw new ChannelMessageError(
      'VMBUS_MESSAGE_WRONG_SENDER',
      `${name} (${id}) is sent by the ${spec.from}, not to it`,
      id,
    );
  }
  if (bytes.length < spec.minSize) {
    throw new ChannelMessageError(
      'VMBUS_MESSAGE_TOO_SHORT',
      `${name} (${id}) of ${bytes.length} bytes is shorter than its ${spec.minSize}`,
      id,
    );
  }
  if (
    context.version < spec.minVersion ||
    (spec.feature !== undefined && (context.features & spec.feature) === 0)
  ) {
    throw new ChannelMessageError(
      'VMBUS_MESSAGE_NOT_ALLOWED',
      `${name} (${id}) is not allowed at version 0x${context.version.toString(16)} with features 0x${context.features.toString(16)}`,
      id,
    );
  }
  const out: Record<string, unknown> = { type: name, byteLength: bytes.length };
  for (const [field, [offset, kind]] of Object.entries(spec.fields)) {
    out[field] = readField(bytes, view, offset, kind);
  }
  return out as ChannelMessage;
}

function fieldSize(kind: FieldKind): number {
  switch (kind) {
    case 'u8':
      return 1;
    case 'u16':
      return 2;
    case 'u32':
    case 'i32':
      return 4;
    case 'u64':
      return 8;
    case 'guid':
    case 'bytes16':
      return 16;
    case 'bytes120':
      return 120;
    case 'tail':
      return 0;
  }
}

function readField(bytes: Uint8Array, view: DataView, offset: number, kind: FieldKind): unknown {
  const present = offset + fieldSize(kind) <= bytes.length;
  switch (kind) {
    case 'u8':
      return present ? view.getUint8(offset) : 0;
    case 'u16':
      return present ? view.getUint16(offset, true) : 0;
    case 'u32':
      return present ? view.getUint32(offset, true) : 0;
    case 'i32':
      return present ? view.getInt32(offset, true) : 0;
    case 'u64':
      return present ? view.getBigUint64(offset, true) : 0n;
    case 'guid':
      return present ? readGuid(bytes, offset) : NIL_GUID;
    case 'bytes16':
    case 'bytes120':
      return present
        ? bytes.slice(offset, offset + fieldSize(kind))
        : new Uint8Array(fieldSize(kind));
    case 'tail':
      return bytes.slice(Math.min(offset, bytes.length));
  }
}

/**
 * Encodes one channel message. Fields left out are zero.
 *
 * @param type - the message name
 * @param fields - field values; a `tail` field's bytes are appended
 * @param size - bytes before any tail: the message's full size unless a
 *   shorter variant is wanted (at least its minimum size)
 * @returns the message bytes (at most 240)
 * @throws RangeError when a value does not fit its field or the message would exceed 240 bytes
 * @example
 * ```ts
 * import { encodeChannelMessage } from 'vmbus-kmcl/protocol';
 * encodeChannelMessage('GpadlTorndown', { gpadl: 0xe1e10 }).length; // 12
 * ```
 */
export function encodeChannelMessage<N extends ChannelMessageName>(
  type: N,
  fields: Partial<ChannelMessageFields<N>> = {},
  size?: number,
): Uint8Array {
  const spec: MessageSpec = CHANNEL_MESSAGES[type];
  const fixed = size ?? spec.size;
  if (fixed < spec.minSize || fixed > spec.size) {
    throw new RangeError(`${type} has sizes ${spec.minSize}..${spec.size}, not ${fixed}`);
  }
  const values = fields as Record<string, unknown>;
  let tail: Uint8Array | undefined;
  for (const [field, [, kind]] of Object.entries(spec.fields)) {
    if (kind === 'tail' && values[field] !== undefined) tail = values[field] as Uint8Array;
  }
  const length = fixed + (tail?.length ?? 0);
  if (length > MAX_MESSAGE_SIZE) {
    throw new RangeError(
      `${type} of ${length} bytes exceeds the ${MAX_MESSAGE_SIZE}-byte message size`,
    );
  }
  const bytes = new Uint8Array(length);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, spec.id, true);
  for (const [field, [offset, kind]] of Object.entries(spec.fields)) {
    const value = values[field];
    if (value === undefined) continue;
    if (kind !== 'tail' && offset + fieldSize(kind) > fixed) {
      if (isZero(value)) continue;
      throw new RangeError(`${type}.${field} lies beyond the ${fixed}-byte variant`);
    }
    writeField(bytes, view, offset, kind, value, `${type}.${field}`);
  }
  return bytes;
}

function isZero(value: unknown): boolean {
  if (typeof value === 'number' || typeof value === 'bigint') return value === 0 || value === 0n;
  if (typeof value === 'string') return value === NIL_GUID;
  if (value instanceof Uint8Array) return value.every((b) => b === 0);
  return false;
}

function writeField(
  bytes: Uint8Array,
  view: DataView,
  offset: number,
  kind: FieldKind,
  value: unknown,
  name: string,
): void {
  const int = (max: number, min = 0) => {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      throw new RangeError(`${name} ${String(value)} does not fit its field`);
    }
    return value;
  };
  switch (kind) {
    case 'u8':
      view.setUint8(offset, int(0xff));
      return;
    case 'u16':
      view.setUint16(offset, int(0xffff), true);
      return;
    case 'u32':
      view.setUint32(offset, int(0xffff_ffff), true);
      return;
    case 'i32':
      view.setInt32(offset, int(0x7fff_ffff, -0x8000_0000), true);
      return;
    case 'u64':
      if (typeof value !== 'bigint' || value < 0n || value > 0xffff_ffff_ffff_ffffn) {
        throw new RangeError(`${name} ${String(value)} does not fit a u64`);
      }
      view.setBigUint64(offset, value, true);
      return;
    case 'guid':
      writeGuid(value as string, bytes, offset);
      return;
    case 'bytes16':
    case 'bytes120':
    case 'tail': {
      const data = value as Uint8Array;
      const max = kind === 'tail' ? data.length : fieldSize(kind);
      if (data.length > max) throw new RangeError(`${name} of ${data.length} bytes exceeds ${max}`);
      bytes.set(data, offset);
      return;
    }
  }
}
