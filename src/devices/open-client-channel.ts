/**
 * The way every guest driver of this project opens a device channel: target
 * the offer, enable, and wait until the channel has started.
 *
 * @module
 */

import type { KmclChannel } from '../kmcl/kmcl-channel.js';
import { VmbusError } from '../status/vmbus-error.js';

/**
 * Targets an offer with a configured client channel, enables it, and
 * resolves once EvtChannelPostStarted ran; rejects with a typed error when
 * the open fails (EvtVmbChannelPnpFailure).
 *
 * @param channel - a client channel with every other Init* setting done
 * @param interfaceType - the device's interface GUID
 * @param instance - the instance GUID, or null for the first offer of the type
 * @param index - sub-channel index (0 for the primary)
 * @param code - the error code of a failed open
 * @param what - the device, for the error message
 * @returns the started channel
 * @throws VmbusError `code` (rejected promise) when the open fails
 *
 * @example
 * ```ts
 * import { createLocalBus, EchoVsp, ECHO_INTERFACE_TYPE, KmclChannel, openClientChannel } from 'vmbus-kmcl';
 * const bus = createLocalBus();
 * new EchoVsp(bus.host, bus.partition).start();
 * await bus.guest.connect();
 * await bus.guest.requestOffers();
 * const channel = new KmclChannel({ guest: bus.guest }, false);
 * channel.initSetProcessPacketCallbacks((c, p) => c.completePacket(p, null, 0));
 * await openClientChannel(channel, ECHO_INTERFACE_TYPE, null, 0, 'ECHO_OPEN_FAILED', 'the echo device');
 * console.log(channel.isStarted); // true
 * await channel.disable();
 * bus.dispose();
 * ```
 */
export function openClientChannel(
  channel: KmclChannel,
  interfaceType: string,
  instance: string | null,
  index: number,
  code: string,
  what: string,
): Promise<KmclChannel> {
  return new Promise<KmclChannel>((resolve, reject) => {
    channel.initSetTargetPnp(
      interfaceType,
      instance,
      (_c, status) =>
        reject(
          new VmbusError(code, `Opening ${what} failed with 0x${(status >>> 0).toString(16)}`),
        ),
      index,
    );
    channel.initSetStateChangeCallbacks({
      Version: 1,
      Size: 48,
      EvtChannelPostStarted: () => resolve(channel),
    });
    channel.enable();
  });
}
