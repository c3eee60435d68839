/**
 * The guest partition of the cross-worker bus tests. It connects, opens
 * every offer (ring sizes from the host's data), then runs the scenario the
 * host asked for and reports to the host over the worker port.
 */

import { parentPort } from 'node:worker_threads';
import type { GuestChannel } from 'vmbus-kmcl';
import { guestFromWorkerData } from 'vmbus-kmcl/node';
import { receiveStream, sendStream } from './traffic.js';

interface Scenario {
  scenario: 'stream' | 'echo' | 'sequences';
  packets: number;
  ringPages: number[];
}

const port = parentPort!;
const { guest, data, shutdown } = guestFromWorkerData({ log: () => {} });
const scenario = data as Scenario;

try {
  const version = await guest.connect();
  const offers = await guest.requestOffers();
  const channels: GuestChannel[] = [];
  for (const [i, offer] of offers.entries()) {
    const pages = scenario.ringPages[i % scenario.ringPages.length] ?? 4;
    channels.push(await guest.open(offer, { upstreamPages: pages, downstreamPages: pages + 1 }));
  }
  port.postMessage({
    kind: 'open',
    version,
    channels: channels.length,
    pages: guest.pages.allocatedPages,
  });
  if (scenario.scenario === 'stream') {
    const received = channels.map((c) => receiveStream(c.pipe, scenario.packets));
    await Promise.all(channels.map((c) => sendStream(c.pipe, scenario.packets)));
    const counts = await Promise.all(received);
    port.postMessage({ kind: 'received', counts });
    // Wait for the host's word, then close everything.
    await new Promise((r) => port.once('message', r));
    await Promise.all(channels.map((c) => c.close()));
    port.postMessage({ kind: 'closed', pages: guest.pages.allocatedPages });
  } else if (scenario.scenario === 'echo') {
    for (const c of channels) {
      c.pipe.onPacket = (p) => {
        const payload = new Uint8Array(p.payloadLength);
        p.copyPayload(payload);
        if (!c.pipe.send(11, 0, p.transactionIdLow, p.transactionIdHigh, payload))
          port.postMessage({ kind: 'full' });
      };
    }
  } else {
    await Promise.all(channels.map((c) => c.close()));
    await guest.unload();
    port.postMessage({
      kind: 'unloaded',
      pages: guest.pages.allocatedPages,
      offers: guest.offers.size,
    });
    shutdown();
  }
} catch (e) {
  port.postMessage({ kind: 'error', message: e instanceof Error ? e.message : String(e) });
}
