/**
 * The bus of `vmbus ui`, in the browser: this module worker runs the host
 * with every device (src/demo/demo-bus.ts) and starts the two guest
 * partitions in module workers of their own (guest-worker.js), all over
 * SharedArrayBuffer. The page asks for a sample at display rate and gets
 * the channels' states with their rings located in guest memory (it reads
 * and decodes them on its own thread, so sampling costs this thread
 * little); it also sends the controls.
 */

import { VmbusHost } from '../src/bus/vmbus-host.js';
import { type ChannelAction, DemoBus, type GuestSpawner } from '../src/demo/demo-bus.js';
import { startWebGuestWorker, type WebWorkerLike } from '../src/web/web-guest-worker.js';

const scope = self as unknown as WebWorkerLike;
const host = new VmbusHost({ log: () => {} });
const spawn: GuestSpawner = (which, memoryPages, data) => {
  const g = startWebGuestWorker(host, new URL('./guest-worker.js', import.meta.url), {
    memoryPages,
    data: { which, data },
  });
  g.onMessage((m) => {
    const message = m as { kind?: string; message?: string };
    if (message.kind === 'error')
      scope.postMessage({ kind: 'guest-error', which, message: message.message });
  });
  return {
    partition: g.partition,
    memory: g.memory.buffer,
    post: g.post,
    terminate: async () => g.terminate(),
  };
};
const bus = new DemoBus(host, spawn);
scope.postMessage({ kind: 'memories', memories: bus.guests.map((g) => g.memory) });

scope.addEventListener('message', (event) => {
  const m = event.data as
    | { kind: 'sample' }
    | { kind: 'act'; id: number; partition: number; relid: number; action: ChannelAction }
    | { kind: 'rate'; id: number; value: number };
  if (m.kind === 'sample') {
    scope.postMessage({
      kind: 'snapshot',
      time: performance.now(),
      rate: bus.rate,
      channels: bus.snapshot('locate'),
    });
  } else if (m.kind === 'act') {
    bus.act(m.partition, m.relid, m.action).then(
      (ok) => scope.postMessage({ kind: 'acted', id: m.id, ok }),
      (e: unknown) =>
        scope.postMessage({
          kind: 'acted',
          id: m.id,
          ok: false,
          error: e instanceof Error ? e.message : String(e),
        }),
    );
  } else if (m.kind === 'rate') {
    bus.setRate(m.value);
    scope.postMessage({ kind: 'acted', id: m.id, ok: true });
  }
});
