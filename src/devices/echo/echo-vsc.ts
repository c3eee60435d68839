/**
 * The echo device, guest side (a VSC), written against the KMCL facade:
 * open the channel, negotiate the version with a synchronous request, then
 * echo bytes.
 *
 * @module
 */

import type { VmbusGuest } from '../../bus/vmbus-guest.js';
import {
  type KmclChannel,
  VMB_CHANNEL_STATE_CHANGE_CALLBACKS_INIT,
} from '../../kmcl/kmcl-channel.js';
import { VMBUS_CHANNEL_FORMAT_FLAG_WAIT_FOR_COMPLETION } from '../../kmcl/kmcl-constants.js';
import {
  type Out,
  VmbChannelAllocate,
  VmbChannelDisable,
  VmbChannelEnable,
  VmbChannelInitSetMaximumPacketSize,
  VmbChannelInitSetProcessPacketCallbacks,
  VmbChannelInitSetStateChangeCallbacks,
  VmbChannelPacketComplete,
  VmbChannelSendSynchronousRequest,
  VmbClientChannelInitSetTargetPnp,
} from '../../kmcl/kmcl-facade.js';
import { NTSTATUS, ntStatusName } from '../../status/ntstatus.js';
import { VmbusError } from '../../status/vmbus-error.js';
import {
  ECHO_INTERFACE_TYPE,
  ECHO_MAX_PAYLOAD,
  ECHO_OP_ECHO,
  ECHO_OP_VERSION,
  ECHO_VERSION,
} from './echo-protocol.js';

/**
 * Talks to an echo device.
 *
 * @example
 * ```ts
 * import { EchoVsc } from 'vmbus-kmcl';
 * // const echo = new EchoVsc(guest);
 * // await echo.connect();
 * // const reply = await echo.echo(new TextEncoder().encode('hello'));
 * ```
 */
export class EchoVsc {
  private readonly channel: KmclChannel;
  private readonly started: Promise<void>;

  /** @param guest - the guest's bus (connected, offers requested) */
  constructor(guest: VmbusGuest) {
    const out: Out<KmclChannel> = {};
    VmbChannelAllocate({ guest }, false, out);
    this.channel = out.value!;
    VmbClientChannelInitSetTargetPnp(this.channel, ECHO_INTERFACE_TYPE, null);
    VmbChannelInitSetMaximumPacketSize(this.channel, 8 + ECHO_MAX_PAYLOAD);
    // The device never sends requests of its own; complete anything anyway.
    VmbChannelInitSetProcessPacketCallbacks(this.channel, (_c, packet) =>
      VmbChannelPacketComplete(packet, null, 0),
    );
    const callbacks = VMB_CHANNEL_STATE_CHANGE_CALLBACKS_INIT();
    this.started = new Promise((resolve) => {
      callbacks.EvtChannelPostStarted = () => resolve();
    });
    VmbChannelInitSetStateChangeCallbacks(this.channel, callbacks);
  }

  private async call(op: number, argument: number, payload?: Uint8Array): Promise<Uint8Array> {
    // Buffers per call, so several calls may be in flight at once.
    const request = new Uint8Array(8 + (payload?.length ?? 0));
    const reply = new Uint8Array(8 + ECHO_MAX_PAYLOAD + 8);
    const view = new DataView(request.buffer);
    view.setUint32(0, op, true);
    view.setUint32(4, argument, true);
    if (payload) request.set(payload, 8);
    const size = { value: reply.length };
    const status = await VmbChannelSendSynchronousRequest(
      this.channel,
      request,
      request.length,
      null,
      VMBUS_CHANNEL_FORMAT_FLAG_WAIT_FOR_COMPLETION,
      reply,
      size,
      -50_000_000n, // 5 s, relative, in 100 ns units
    );
    if (status !== NTSTATUS.STATUS_SUCCESS)
      throw new VmbusError('ECHO_FAILED', `The echo request failed: ${ntStatusName(status)}`);
    return reply.subarray(0, size.value);
  }

  /**
   * Opens the channel and negotiates the version.
   *
   * @throws VmbusError when the device refuses the version
   */
  async connect(): Promise<void> {
    VmbChannelEnable(this.channel);
    await this.started;
    const answer = await this.call(ECHO_OP_VERSION, ECHO_VERSION);
    if (new DataView(answer.buffer, answer.byteOffset).getUint32(4, true) !== 1) {
      throw new VmbusError('ECHO_VERSION_REFUSED', 'The echo device refused version 1.0');
    }
  }

  /**
   * Sends bytes and returns what came back.
   *
   * @param bytes - at most 4088 bytes
   * @returns the echoed bytes (a copy)
   * @throws RangeError for a payload over ECHO_MAX_PAYLOAD; VmbusError when the device is not open or the reply is malformed
   */
  async echo(bytes: Uint8Array): Promise<Uint8Array> {
    if (bytes.length > ECHO_MAX_PAYLOAD)
      throw new RangeError(`An echo carries at most ${ECHO_MAX_PAYLOAD} bytes`);
    const answer = await this.call(ECHO_OP_ECHO, bytes.length, bytes);
    return answer.slice(8, 8 + bytes.length);
  }

  /** Closes the channel. */
  close(): Promise<void> {
    return VmbChannelDisable(this.channel);
  }
}
