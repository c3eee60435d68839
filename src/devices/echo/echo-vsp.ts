/**
 * The echo device, host side (a VSP), written against the KMCL facade the
 * way a Windows VSP would be. It refuses ECHO before a successful VERSION.
 *
 * @module
 */

import { type PipeStats, sumPipeStats } from '../../bus/channel-pipe.js';
import type { HostPartition, VmbusHost } from '../../bus/vmbus-host.js';
import type { KmclChannel } from '../../kmcl/kmcl-channel.js';
import {
  type Out,
  VmbChannelAllocate,
  VmbChannelDisable,
  VmbChannelEnable,
  VmbChannelInitSetMaximumPacketSize,
  VmbChannelInitSetProcessPacketCallbacks,
  VmbChannelPacketComplete,
  VmbChannelPacketFail,
  VmbChannelStart,
  VmbServerChannelInitSetTargetInterfaceId,
} from '../../kmcl/kmcl-facade.js';
import {
  ECHO_INTERFACE_TYPE,
  ECHO_MAX_PAYLOAD,
  ECHO_OP_ECHO,
  ECHO_OP_VERSION,
  ECHO_VERSION,
} from './echo-protocol.js';

/**
 * Offers an echo channel to a partition and answers it.
 *
 * @example
 * ```ts
 * import { EchoVsp, createLocalBus } from 'vmbus-kmcl';
 * const bus = createLocalBus();
 * const vsp = new EchoVsp(bus.host, bus.partition);
 * vsp.start(); // offers the echo device; an EchoVsc in the guest can open it
 * await vsp.stop();
 * bus.dispose();
 * ```
 */
export class EchoVsp {
  /** ECHO requests answered. */
  echoes = 0;
  /** Bytes echoed. */
  bytes = 0;
  private readonly channel: KmclChannel;
  private negotiated = false;

  /**
   * @param host - the host
   * @param partition - the guest partition to offer the device to
   * @param instance - the device's instance GUID
   */
  constructor(
    host: VmbusHost,
    partition: HostPartition,
    instance = 'ec0ec0ec-0000-4000-8000-000000000001',
  ) {
    const out: Out<KmclChannel> = {};
    VmbChannelAllocate({ host, partition }, true, out);
    this.channel = out.value!;
    VmbServerChannelInitSetTargetInterfaceId(this.channel, ECHO_INTERFACE_TYPE, instance);
    VmbChannelInitSetMaximumPacketSize(this.channel, 8 + ECHO_MAX_PAYLOAD);
    VmbChannelInitSetProcessPacketCallbacks(this.channel, (_channel, packet, buffer, length) => {
      const view = new DataView(buffer.buffer, buffer.byteOffset, length);
      if (length < 8) return VmbChannelPacketFail(packet); // malformed: stop the queue
      const op = view.getUint32(0, true);
      const argument = view.getUint32(4, true);
      if (op === ECHO_OP_VERSION) {
        this.negotiated = argument === ECHO_VERSION;
        view.setUint32(4, this.negotiated ? 1 : 0, true);
        return VmbChannelPacketComplete(packet, buffer, 8);
      }
      if (op === ECHO_OP_ECHO && this.negotiated && argument <= length - 8) {
        this.echoes++;
        this.bytes += argument;
        return VmbChannelPacketComplete(packet, buffer, 8 + argument);
      }
      VmbChannelPacketFail(packet);
    });
  }

  /**
   * Ring-level counters of the echo channel on the host side.
   *
   * @returns packets and bytes each way, interrupts, the ring high-water mark
   */
  get channelStats(): PipeStats {
    return sumPipeStats([this.channel.pipeStats]);
  }

  /**
   * The device's KMCL channels (primary first), for tools that watch or
   * steer them (`vmbus ui` pauses and starts them).
   *
   * @returns the channels
   */
  get kmclChannels(): readonly KmclChannel[] {
    return [this.channel];
  }

  /** Offers the channel and starts it. */
  start(): void {
    VmbChannelEnable(this.channel);
    VmbChannelStart(this.channel);
  }

  /** Rescinds the channel. */
  stop(): Promise<void> {
    return VmbChannelDisable(this.channel);
  }
}
