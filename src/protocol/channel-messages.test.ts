/**
 * The channel-message table against spec vmbus-wire.md §3.2-3.3 (sizes and
 * field offsets restated here from the spec, not from the table), the worked
 * example (d) of §5, GUID layout, every check, and fast-check round trips.
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  CHANNEL_MESSAGES,
  ChannelMessageError,
  type ChannelMessageName,
  encodeChannelMessage,
  MESSAGE_NAMES,
  parseChannelMessage,
} from './channel-messages.js';
import { type Guid, parseGuid, readGuid, writeGuid } from './guid.js';
import { VMBUS_VERSION } from './versions.js';

const ALL = { version: VMBUS_VERSION.COPPER, features: 0xff };
const hex = (s: string) =>
  Uint8Array.from(s.replace(/\s+/g, '').match(/../g) ?? [], (b) => Number.parseInt(b, 16));

/** Spec §3.2 (number, sender, sizes) and §3.3 (offsets), restated. */
const SPEC: Record<
  string,
  { id: number; from: 'host' | 'guest'; sizes: number[]; offsets?: Record<string, number> }
> = {
  OfferChannel: {
    id: 1,
    from: 'host',
    sizes: [190, 196],
    offsets: {
      interfaceType: 8,
      interfaceInstance: 24,
      flags: 56,
      mmioMegabytes: 58,
      userDefined: 60,
      subchannelIndex: 180,
      mmioMegabytesOptional: 182,
      childRelid: 184,
      monitorId: 188,
      monitorAllocated: 189,
      isDedicatedInterrupt: 190,
      connectionId: 192,
    },
  },
  RescindChannelOffer: { id: 2, from: 'host', sizes: [12], offsets: { childRelid: 8 } },
  RequestOffers: { id: 3, from: 'guest', sizes: [8] },
  AllOffersDelivered: { id: 4, from: 'host', sizes: [8] },
  OpenChannel: {
    id: 5,
    from: 'guest',
    sizes: [148, 156],
    offsets: {
      childRelid: 8,
      openId: 12,
      ringBufferGpadlHandle: 16,
      targetVp: 20,
      downstreamRingBufferPageOffset: 24,
      userData: 28,
      connectionId: 148,
      eventFlag: 152,
      flags: 154,
    },
  },
  OpenChannelResult: {
    id: 6,
    from: 'host',
    sizes: [20],
    offsets: { childRelid: 8, openId: 12, status: 16 },
  },
  CloseChannel: { id: 7, from: 'guest', sizes: [12], offsets: { childRelid: 8 } },
  GpadlHeader: {
    id: 8,
    from: 'guest',
    sizes: [20],
    offsets: { childRelid: 8, gpadl: 12, rangeBufferLength: 16, rangeCount: 18, data: 20 },
  },
  GpadlBody: {
    id: 9,
    from: 'guest',
    sizes: [16],
    offsets: { messageNumber: 8, gpadl: 12, data: 16 },
  },
  GpadlCreated: {
    id: 10,
    from: 'host',
    sizes: [20],
    offsets: { childRelid: 8, gpadl: 12, status: 16 },
  },
  GpadlTeardown: { id: 11, from: 'guest', sizes: [16], offsets: { childRelid: 8, gpadl: 12 } },
  GpadlTorndown: { id: 12, from: 'host', sizes: [12], offsets: { gpadl: 8 } },
  RelidReleased: { id: 13, from: 'guest', sizes: [12], offsets: { childRelid: 8 } },
  InitiateContact: {
    id: 14,
    from: 'guest',
    sizes: [40, 56],
    offsets: {
      versionRequested: 8,
      targetMessageVp: 12,
      interruptPageOrTarget: 16,
      parentToChildMonitorPage: 24,
      childToParentMonitorPage: 32,
      clientId: 40,
    },
  },
  VersionResponse: {
    id: 15,
    from: 'host',
    sizes: [16, 40],
    offsets: {
      versionSupported: 8,
      connectionState: 9,
      selectedVersionOrConnectionId: 12,
      supportedFeatures: 16,
      parentToChildMonitorPage: 24,
      childToParentMonitorPage: 32,
    },
  },
  Unload: { id: 16, from: 'guest', sizes: [8] },
  UnloadResponse: { id: 17, from: 'host', sizes: [8] },
  OpenReservedChannel: {
    id: 18,
    from: 'guest',
    sizes: [28],
    offsets: {
      channelId: 8,
      targetVp: 12,
      targetSint: 16,
      ringBufferGpadl: 20,
      downstreamPageOffset: 24,
    },
  },
  CloseReservedChannel: { id: 19, from: 'guest', sizes: [20] },
  CloseReservedResponse: { id: 20, from: 'host', sizes: [12] },
  TlConnectRequest: {
    id: 21,
    from: 'guest',
    sizes: [40, 56],
    offsets: { endpointId: 8, serviceId: 24, siloId: 40 },
  },
  ModifyChannel: { id: 22, from: 'guest', sizes: [16], offsets: { childRelid: 8, targetVp: 12 } },
  TlConnectResult: {
    id: 23,
    from: 'host',
    sizes: [44],
    offsets: { endpointId: 8, serviceId: 24, status: 40 },
  },
  ModifyChannelResponse: {
    id: 24,
    from: 'host',
    sizes: [16],
    offsets: { childRelid: 8, status: 12 },
  },
  ModifyConnection: {
    id: 25,
    from: 'guest',
    sizes: [24],
    offsets: { parentToChildMonitorPage: 8, childToParentMonitorPage: 16 },
  },
  ModifyConnectionResponse: { id: 26, from: 'host', sizes: [9], offsets: { connectionState: 8 } },
  Pause: { id: 27, from: 'guest', sizes: [8] },
  PauseResponse: { id: 28, from: 'host', sizes: [8] },
  Resume: { id: 29, from: 'guest', sizes: [8] },
};

describe('channel message table (spec §3.2-3.3)', () => {
  it('holds every message 1..29 with the spec number, sender, sizes and offsets', () => {
    assert.equal(Object.keys(CHANNEL_MESSAGES).length, 29);
    for (const [name, want] of Object.entries(SPEC)) {
      const spec = CHANNEL_MESSAGES[name as ChannelMessageName];
      assert.ok(spec, `${name} missing`);
      assert.equal(spec.id, want.id, name);
      assert.equal(spec.from, want.from, name);
      assert.equal(spec.minSize, Math.min(...want.sizes), `${name} minimum size`);
      assert.equal(spec.size, Math.max(...want.sizes), `${name} size`);
      assert.equal(MESSAGE_NAMES[want.id], name);
      const fields = spec.fields as Record<string, readonly [number, string]>;
      for (const [field, offset] of Object.entries(want.offsets ?? {})) {
        assert.equal(fields[field]?.[0], offset, `${name}.${field} offset`);
      }
      assert.equal(encodeChannelMessage(name as ChannelMessageName).length, spec.size);
    }
  });

  it('encodes example (d) of spec §5: a GPADL header for two pages', () => {
    const data = new Uint8Array(24);
    const dv = new DataView(data.buffer);
    dv.setUint32(0, 0x2000, true);
    dv.setUint32(4, 0, true);
    dv.setBigUint64(8, 0x12345n, true);
    dv.setBigUint64(16, 0x12346n, true);
    const bytes = encodeChannelMessage('GpadlHeader', {
      childRelid: 5,
      gpadl: 0xe1e10,
      rangeBufferLength: 24,
      rangeCount: 1,
      data,
    });
    assert.deepEqual(
      bytes,
      hex(
        '0800000000000000 05000000101e0e00 1800010000200000 0000000045230100 0000000046230100 00000000',
      ),
    );
    assert.equal(bytes.length, 44);
    const m = parseChannelMessage(bytes, 'host', ALL);
    assert.equal(m.type, 'GpadlHeader');
    if (m.type === 'GpadlHeader') {
      assert.equal(m.gpadl, 0xe1e10);
      assert.deepEqual(m.data, data);
    }
  });

  it('lays GUIDs out mixed-endian', () => {
    const dst = new Uint8Array(16);
    writeGuid('f8615163-df3e-46c5-913f-f2d2f965ed0e', dst, 0);
    assert.deepEqual(dst, hex('63516 1f8 3edf c546 913f f2d2f965ed0e'.replace(/ /g, '')));
    assert.equal(readGuid(dst, 0), 'f8615163-df3e-46c5-913f-f2d2f965ed0e');
    assert.equal(
      parseGuid('{F8615163-DF3E-46C5-913F-F2D2F965ED0E}'),
      'f8615163-df3e-46c5-913f-f2d2f965ed0e',
    );
    assert.throws(() => parseGuid('not-a-guid'), TypeError);
  });
});

describe('channel message checks', () => {
  const code = (fn: () => unknown) => {
    try {
      fn();
    } catch (e) {
      assert.ok(e instanceof ChannelMessageError, String(e));
      return e.code;
    }
    assert.fail('accepted');
  };

  it('rejects short, long, unknown, wrong-sender and not-yet-allowed messages whole', () => {
    assert.equal(
      code(() => parseChannelMessage(new Uint8Array(4), 'host', ALL)),
      'VMBUS_MESSAGE_TOO_SHORT',
    );
    assert.equal(
      code(() =>
        parseChannelMessage(encodeChannelMessage('OpenChannel').subarray(0, 100), 'host', ALL),
      ),
      'VMBUS_MESSAGE_TOO_SHORT',
    );
    assert.equal(
      code(() => parseChannelMessage(new Uint8Array(241), 'host', ALL)),
      'VMBUS_MESSAGE_TOO_LONG',
    );
    const unknown = new Uint8Array(8);
    unknown[0] = 30;
    assert.equal(
      code(() => parseChannelMessage(unknown, 'host', ALL)),
      'VMBUS_MESSAGE_UNKNOWN_TYPE',
    );
    assert.equal(
      code(() => parseChannelMessage(new Uint8Array(8), 'host', ALL)),
      'VMBUS_MESSAGE_UNKNOWN_TYPE',
      'type 0 is INVALID',
    );
    assert.equal(
      code(() => parseChannelMessage(encodeChannelMessage('OfferChannel'), 'host', ALL)),
      'VMBUS_MESSAGE_WRONG_SENDER',
    );
    const early = { version: 0, features: 0 };
    assert.equal(
      code(() => parseChannelMessage(encodeChannelMessage('RequestOffers'), 'host', early)),
      'VMBUS_MESSAGE_NOT_ALLOWED',
    );
    assert.equal(
      parseChannelMessage(encodeChannelMessage('InitiateContact'), 'host', early).type,
      'InitiateContact',
    );
    const win8 = { version: VMBUS_VERSION.WIN8, features: 0 };
    assert.equal(
      code(() => parseChannelMessage(encodeChannelMessage('ModifyChannel'), 'host', win8)),
      'VMBUS_MESSAGE_NOT_ALLOWED',
    );
    const copperNoPause = { version: VMBUS_VERSION.COPPER, features: 0 };
    assert.equal(
      code(() => parseChannelMessage(encodeChannelMessage('Pause'), 'host', copperNoPause)),
      'VMBUS_MESSAGE_NOT_ALLOWED',
    );
  });

  it('reads fields beyond a short variant as zero', () => {
    const m = parseChannelMessage(
      encodeChannelMessage(
        'VersionResponse',
        { versionSupported: 1, selectedVersionOrConnectionId: 7 },
        16,
      ),
      'guest',
      ALL,
    );
    assert.equal(m.type, 'VersionResponse');
    if (m.type === 'VersionResponse') {
      assert.equal(m.byteLength, 16);
      assert.equal(m.supportedFeatures, 0);
      assert.equal(m.selectedVersionOrConnectionId, 7);
    }
    assert.throws(
      () => encodeChannelMessage('VersionResponse', { supportedFeatures: 1 }, 16),
      RangeError,
    );
  });
});

describe('channel message properties', () => {
  const guid = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => readGuid(b, 0) as Guid);
  const value = (kind: string): fc.Arbitrary<unknown> => {
    switch (kind) {
      case 'u8':
        return fc.nat({ max: 0xff });
      case 'u16':
        return fc.nat({ max: 0xffff });
      case 'u32':
        return fc.nat({ max: 0xffffffff });
      case 'i32':
        return fc.integer({ min: -0x80000000, max: 0x7fffffff });
      case 'u64':
        return fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
      case 'guid':
        return guid;
      case 'bytes16':
        return fc.uint8Array({ minLength: 16, maxLength: 16 });
      case 'bytes120':
        return fc.uint8Array({ minLength: 120, maxLength: 120 });
      default:
        return fc.uint8Array({ maxLength: 64 });
    }
  };

  for (const name of Object.keys(CHANNEL_MESSAGES) as ChannelMessageName[]) {
    it(`${name} round-trips`, () => {
      const spec = CHANNEL_MESSAGES[name];
      const fields = spec.fields as Record<string, readonly [number, string]>;
      const record = Object.fromEntries(Object.entries(fields).map(([f, [, k]]) => [f, value(k)]));
      fc.assert(
        fc.property(fc.record(record), (values) => {
          const bytes = encodeChannelMessage(name, values as never);
          const receiver = spec.from === 'host' ? 'guest' : 'host';
          const m = parseChannelMessage(bytes, receiver, ALL) as unknown as Record<string, unknown>;
          assert.equal(m.type, name);
          for (const f of Object.keys(fields))
            assert.deepEqual(m[f], (values as Record<string, unknown>)[f], `${name}.${f}`);
        }),
        { numRuns: 50 },
      );
    });
  }

  it('random bytes give a message or the typed error, never anything else', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 250 }),
        fc.nat({ max: 40 }),
        fc.constantFrom<'host' | 'guest'>('host', 'guest'),
        (bytes, type, receiver) => {
          if (bytes.length >= 4)
            new DataView(bytes.buffer, bytes.byteOffset).setUint32(0, type, true);
          try {
            parseChannelMessage(bytes, receiver, ALL);
          } catch (e) {
            assert.ok(e instanceof ChannelMessageError, String(e));
          }
        },
      ),
      { numRuns: 2000 },
    );
  });
});
