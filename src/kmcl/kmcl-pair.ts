/**
 * A test helper (public API): a server channel (VSP) and a client channel
 * (VSC) of the KMCL on a local bus in one thread, configured through the
 * Windows-named facade, enabled and started.
 *
 * @module
 */

import { createLocalBus, type LocalBus } from '../bus/local-bus.js';
import {
  KmclChannel,
  type StateChangeCallbacks,
  VMB_CHANNEL_STATE_CHANGE_CALLBACKS_INIT,
} from './kmcl-channel.js';

/**
 * Options of {@link createKmclPair}.
 *
 * @example
 * ```ts
 * import { createKmclPair, type KmclPairOptions } from 'vmbus-kmcl';
 * const options: KmclPairOptions = {
 *   configureServer: (channel) => channel.initSetMaximumPacketSize(256),
 *   configureClient: (_channel, callbacks) => {
 *     callbacks.EvtChannelOpened = () => 0;
 *   },
 * };
 * const { server, dispose } = await createKmclPair(options);
 * console.log(server.maximumPacketSize); // 256
 * await dispose();
 * ```
 */
export interface KmclPairOptions {
  /** Called on the server channel before Enable (Init* calls). */
  configureServer?: (channel: KmclChannel, callbacks: StateChangeCallbacks) => void;
  /** Called on the client channel before Enable. */
  configureClient?: (channel: KmclChannel, callbacks: StateChangeCallbacks) => void;
  /** Whether to call Start on the server right after Enable (default true). */
  startServer?: boolean;
  /** Whether to wait for both PostStarted callbacks (default true). */
  waitForStart?: boolean;
  /** Doorbell polls before the bus's pumps sleep (see `LocalBusOptions.spin`; default 0). */
  spin?: number;
}

/**
 * Both channels and the bus.
 *
 * @example
 * ```ts
 * import { createKmclPair, type KmclPair } from 'vmbus-kmcl';
 * const pair: KmclPair = await createKmclPair();
 * console.log(pair.server.isServer, pair.client.isServer); // true false
 * await pair.dispose();
 * ```
 */
export interface KmclPair {
  bus: LocalBus;
  server: KmclChannel;
  client: KmclChannel;
  /** Disables both channels and disposes of the bus. */
  dispose(): Promise<void>;
}

/**
 * The interface type of the helper's channel.
 *
 * @example
 * ```ts
 * import { PAIR_INTERFACE_TYPE, createKmclPair } from 'vmbus-kmcl';
 * const { bus, dispose } = await createKmclPair();
 * const offer = [...bus.guest.offers.values()][0];
 * console.log(String(offer?.interfaceType) === PAIR_INTERFACE_TYPE); // true
 * await dispose();
 * ```
 */
export const PAIR_INTERFACE_TYPE = 'c376c1c3-d276-48d2-90a9-c04748072c60';
/**
 * The interface instance of the helper's channel.
 *
 * @example
 * ```ts
 * import { PAIR_INTERFACE_INSTANCE, createKmclPair } from 'vmbus-kmcl';
 * const { client, dispose } = await createKmclPair();
 * console.log(String(client.getInterfaceInstance()) === PAIR_INTERFACE_INSTANCE); // true
 * await dispose();
 * ```
 */
export const PAIR_INTERFACE_INSTANCE = 'a0a0a0a0-0000-0000-0000-000000000001';

/**
 * Builds, enables and starts a server and a client channel.
 *
 * @param options - configuration hooks
 * @returns the pair, once both sides ran PostStarted (unless told not to wait)
 * @example
 * ```ts
 * import { createKmclPair } from 'vmbus-kmcl';
 * const { server, client, dispose } = await createKmclPair({
 *   configureServer: (c) => c.initSetProcessPacketCallbacks((ch, p) => ch.completePacket(p, null, 0)),
 * });
 * await dispose();
 * ```
 */
export async function createKmclPair(options: KmclPairOptions = {}): Promise<KmclPair> {
  const bus = createLocalBus({ log: () => {}, spin: options.spin ?? 0 });
  const server = new KmclChannel({ host: bus.host, partition: bus.partition }, true);
  const client = new KmclChannel({ guest: bus.guest }, false);
  let serverStarted!: () => void;
  let clientStarted!: () => void;
  const started = Promise.all([
    new Promise<void>((r) => {
      serverStarted = r;
    }),
    new Promise<void>((r) => {
      clientStarted = r;
    }),
  ]);
  const serverCallbacks = VMB_CHANNEL_STATE_CHANGE_CALLBACKS_INIT();
  const clientCallbacks = VMB_CHANNEL_STATE_CHANGE_CALLBACKS_INIT();
  server.initSetTargetInterfaceId(PAIR_INTERFACE_TYPE, PAIR_INTERFACE_INSTANCE);
  server.initSetProcessPacketCallbacks((ch, p) => ch.completePacket(p, null, 0));
  client.initSetTargetPnp(PAIR_INTERFACE_TYPE, null);
  client.initSetProcessPacketCallbacks((ch, p) => ch.completePacket(p, null, 0));
  options.configureServer?.(server, serverCallbacks);
  options.configureClient?.(client, clientCallbacks);
  const wrap = (cb: StateChangeCallbacks, done: () => void): StateChangeCallbacks => {
    const post = cb.EvtChannelPostStarted;
    return {
      ...cb,
      EvtChannelPostStarted: (c) => {
        post?.(c);
        done();
      },
    };
  };
  server.initSetStateChangeCallbacks(wrap(serverCallbacks, serverStarted));
  client.initSetStateChangeCallbacks(wrap(clientCallbacks, clientStarted));
  server.enable();
  if (options.startServer !== false) server.start();
  await bus.guest.connect();
  await bus.guest.requestOffers();
  client.enable();
  if (options.waitForStart !== false) await started;
  return {
    bus,
    server,
    client,
    async dispose() {
      await client.disable().catch(() => undefined);
      await server.disable().catch(() => undefined);
      bus.dispose();
    },
  };
}
