/**
 * Synthetic NIC benchmarks: Ethernet frames of 64 and 1500 bytes from one
 * guest to another, each guest in its own worker with its own partition,
 * through NetVsc → NetVsp → virtual switch → NetVsp → NetVsc on the host
 * thread; frames/s beside the ring-only figure of the same run.
 */

import { VmbusHost } from '../src/bus/vmbus-host.js';
import { NetVsp } from '../src/devices/net/net-vsp.js';
import { VirtualSwitch } from '../src/devices/net/virtual-switch.js';
import { startGuestWorker } from '../src/node/guest-worker.js';
import { type BenchOptions, measure, type Result, summarize } from './harness.js';

/** Case names this file provides. */
export const netCases = ['net/guest-to-guest/64B', 'net/guest-to-guest/1500B'];

/**
 * Runs the NIC cases that `want` accepts.
 *
 * @param want - filter
 * @param opts - options
 * @param report - receives each result
 * @param ringOnly - the ring-only cross-worker 64 B result of this run
 */
export async function runNetBench(
  want: (name: string) => boolean,
  opts: BenchOptions,
  report: (r: Result) => void,
  ringOnly?: Result,
): Promise<void> {
  if (!netCases.some(want)) return;
  const host = new VmbusHost({ log: () => {} });
  const sw = new VirtualSwitch();
  const guests = [1, 2].map((n) => {
    const g = startGuestWorker(host, new URL('./net-guest.js', import.meta.url), {
      memoryPages: 4096,
      spin: Number(process.env.NET_HOST_SPIN ?? 0),
    });
    new NetVsp({
      host,
      partition: g.partition,
      mac: `00:15:5d:00:00:0${n}`,
      switch: sw,
      queueFrames: 1024,
      log: () => {},
    }).start();
    return g;
  });
  const [a, b] = guests as [(typeof guests)[0], (typeof guests)[0]];
  const next = <T>(w: typeof a) => new Promise<T>((r) => w.worker.once('message', r));
  await Promise.all([next(a), next(b)]);
  for (const size of [64, 1500]) {
    const name = `net/guest-to-guest/${size}B`;
    if (!want(name)) continue;
    const runs = await measure(
      async (n) => {
        const armed = next(b);
        b.worker.postMessage({ expect: n, size });
        await armed;
        const done = next<{ t1: number }>(b);
        const started = next<{ t0: number }>(a);
        a.worker.postMessage({ send: n, size, peer: '00:15:5d:00:00:02' });
        const [{ t0 }, { t1 }] = await Promise.all([started, done]);
        return (t1 - t0) / 1e9;
      },
      2000,
      opts,
    );
    const r = summarize(name, runs, size);
    if (ringOnly) {
      r.baseline = ringOnly.case;
      r.ratio = r.packetsPerSec / ringOnly.packetsPerSec;
    }
    report(r);
  }
  for (const g of guests) await g.terminate();
}
