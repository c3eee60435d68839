/**
 * `vmbus demo`: the host in this thread, two guest partitions in workers,
 * the synthetic SCSI controller and the echo device offered to the first,
 * a synthetic NIC in each on one virtual switch, a verified workload for a
 * few seconds (disk I/O, echoes, pings and a bulk stream between the NICs),
 * live progress, and a summary.
 *
 * @module
 */

import { MultiBar, Presets } from 'cli-progress';
import { type PipeStats, sumPipeStats } from '../bus/channel-pipe.js';
import { VmbusHost } from '../bus/vmbus-host.js';
import { DemoBus } from '../demo/demo-bus.js';
import { type BlockBackend, MemoryBackend } from '../devices/storage/scsi-disk.js';
import { FileBackend } from '../node/file-backend.js';
import type { GuestWorker } from '../node/guest-worker.js';
import { nodeSpawner } from './demo-workers.js';
import type { CommandOutput } from './ring-command.js';
import { UsageError } from './usage-error.js';

/** Options of the demo. */
export interface DemoOptions {
  seconds: number;
  json: boolean;
  disk?: string;
  create?: number;
  queueDepth: number;
  subchannels: number;
}

interface GuestDevice {
  ops: number;
  bytes: number;
  errors: number;
  verifyFailures: number;
  p50us: number;
  p99us: number;
  maxUs: number;
}

/**
 * Parses a size such as `64M`, `1G`, `4096`.
 *
 * @param text - the size
 * @returns bytes
 * @throws UsageError when it is not a size
 */
export function parseSize(text: string): number {
  const m = /^(\d+)([KMG]i?B?)?$/i.exec(text.trim());
  if (!m)
    throw new UsageError(`${JSON.stringify(text)} is not a size (examples: 64M, 1G, 1048576)`);
  const unit = (m[2] ?? '').toUpperCase()[0];
  const bytes =
    Number(m[1]) * (unit === 'K' ? 1024 : unit === 'M' ? 1 << 20 : unit === 'G' ? 1 << 30 : 1);
  if (bytes < 1 << 20 || bytes % 512 !== 0)
    throw new UsageError(
      `A disk of ${bytes} bytes is below 1 MiB or not a whole number of 512-byte blocks`,
    );
  return bytes;
}

/**
 * Runs the demo.
 *
 * @param options - duration, output and disk
 * @param io - output
 * @returns exit status: 0 when every device verified its data
 * @throws UsageError for a bad --create size or an unusable --disk file
 */
export async function runDemo(options: DemoOptions, io: CommandOutput): Promise<number> {
  let backend: BlockBackend;
  let file: FileBackend | null = null;
  if (options.disk) {
    try {
      file = await FileBackend.open(
        options.disk,
        options.create !== undefined ? { create: options.create } : {},
      );
    } catch (e) {
      throw new UsageError(
        `cannot open disk image ${options.disk}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
      );
    }
    backend = file;
  } else {
    backend = new MemoryBackend(64 << 20);
  }
  const host = new VmbusHost({ log: () => {} });
  const workers: GuestWorker[] = [];
  const bus = new DemoBus(host, nodeSpawner(host, workers), {
    backend,
    workload: {
      seconds: options.seconds,
      queueDepth: options.queueDepth,
      subchannels: options.subchannels,
    },
  });
  const [guest, second] = workers as [GuestWorker, GuestWorker];
  const { storage, echo, nics, vswitch } = bus;
  const secondMessage = (kind: string) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const on = (m: Record<string, unknown>) => {
        if (m.kind === kind) {
          second.worker.off('message', on);
          resolve(m);
        } else if (m.kind === 'error') reject(new Error(String(m.message)));
      };
      second.worker.on('message', on);
      second.worker.once('error', reject);
    });
  const secondReady = secondMessage('ready');

  const tty = process.stderr.isTTY === true && !options.json;
  // One live line per device (cli-progress), only on a terminal.
  const bars = tty
    ? new MultiBar(
        {
          format: '  {device} {rate} {unit}  {mb} MB/s  {done} done  {elapsed}s',
          hideCursor: true,
          clearOnComplete: false,
          stream: process.stderr,
        },
        Presets.shades_classic,
      )
    : null;
  const storageBar = bars?.create(options.seconds, 0, {
    device: 'storage',
    rate: '0',
    unit: 'IOPS   ',
    mb: '0',
    done: 0,
    elapsed: '0.0',
  });
  const echoBar = bars?.create(options.seconds, 0, {
    device: 'echo   ',
    rate: '0',
    unit: 'req/s  ',
    mb: '0',
    done: 0,
    elapsed: '0.0',
  });
  const netBar = bars?.create(options.seconds, 0, {
    device: 'network',
    rate: '0',
    unit: 'frames/s',
    mb: '0',
    done: 0,
    elapsed: '0.0',
  });
  let last = {
    storage: { ops: 0, bytes: 0 },
    echo: { ops: 0, bytes: 0 },
    network: { ops: 0, bytes: 0 },
  };
  let lastAt = performance.now();
  const started = performance.now();
  const onSigint = () => guest.worker.postMessage({ stop: true });
  process.once('SIGINT', onSigint);
  let protocol = 0;
  let netProtocol = 0;
  await secondReady;
  const result = await new Promise<Record<string, unknown>>((resolve, reject) => {
    guest.worker.on('message', (m: Record<string, unknown>) => {
      if (m.kind === 'ready') {
        protocol = m.version as number;
        netProtocol = m.netVersion as number;
      }
      if (m.kind === 'progress' && bars) {
        const now = performance.now();
        const dt = (now - lastAt) / 1000;
        const elapsed = ((now - started) / 1000).toFixed(1);
        const s = m.storage as { ops: number; bytes: number };
        const e = m.echo as { ops: number; bytes: number };
        const n = m.network as { ops: number; bytes: number };
        const at = Math.min(options.seconds, (now - started) / 1000);
        storageBar?.update(at, {
          rate: fmt((s.ops - last.storage.ops) / dt),
          mb: fmt((s.bytes - last.storage.bytes) / dt / 1e6),
          done: s.ops,
          elapsed,
        });
        echoBar?.update(at, {
          rate: fmt((e.ops - last.echo.ops) / dt),
          mb: fmt((e.bytes - last.echo.bytes) / dt / 1e6),
          done: e.ops,
          elapsed,
        });
        netBar?.update(at, {
          rate: fmt((n.ops - last.network.ops) / dt),
          mb: fmt((n.bytes - last.network.bytes) / dt / 1e6),
          done: n.ops,
          elapsed,
        });
        last = { storage: s, echo: e, network: n };
        lastAt = now;
      } else if (m.kind === 'summary') resolve(m);
      else if (m.kind === 'error') reject(new Error(String(m.message)));
    });
    guest.worker.once('error', reject);
  }).finally(() => {
    process.off('SIGINT', onSigint);
    bars?.stop();
  });
  // Host-side ring counters, taken before the guest goes away.
  const traffic = (s: PipeStats) => ({
    packetsOut: s.packetsSent,
    packetsIn: s.packetsReceived,
    bytesOut: s.bytesSent,
    bytesIn: s.bytesReceived,
    interruptsSent: s.interruptsSent,
    interruptsSuppressed: s.interruptsSuppressed,
    interruptsReceived: s.interruptsReceived,
    ringFull: s.ringFull,
    ringHighWaterBytes: s.ringHighWater,
  });
  const storageTraffic = traffic(storage.channelStats);
  const echoTraffic = traffic(echo.channelStats);
  const netTraffic = traffic(sumPipeStats(nics.map((n) => n.channelStats)));
  const peerReport = secondMessage('report');
  second.worker.postMessage({ report: true });
  const peer = (await peerReport) as { received: number; errors: number };
  await second.terminate();
  await guest.terminate();
  await file?.close();

  const st = result.storage as GuestDevice;
  const ec = result.echo as GuestDevice;
  const nt = result.network as GuestDevice & { pings: number; bulkSent: number };
  const elapsed = result.elapsed as number;
  const summary = {
    seconds: Number(elapsed.toFixed(2)),
    storage: {
      protocol: `${protocol >> 8}.${protocol & 0xff}`,
      ios: st.ops,
      iops: Math.round(st.ops / elapsed),
      mbPerSec: Number((st.bytes / elapsed / 1e6).toFixed(1)),
      latencyUs: {
        p50: Math.round(st.p50us),
        p99: Math.round(st.p99us),
        max: Math.round(st.maxUs),
      },
      hostRequests: storage.stats.requests,
      bytesRead: storage.stats.bytesRead,
      bytesWritten: storage.stats.bytesWritten,
      regionsVerified: result.regionsVerified,
      errors: st.errors + storage.stats.fatal,
      verifyFailures: st.verifyFailures,
      host: storageTraffic,
    },
    echo: {
      requests: ec.ops,
      perSec: Math.round(ec.ops / elapsed),
      bytes: ec.bytes,
      latencyUs: {
        p50: Math.round(ec.p50us),
        p99: Math.round(ec.p99us),
        max: Math.round(ec.maxUs),
      },
      errors: ec.errors,
      verifyFailures: ec.verifyFailures,
      host: echoTraffic,
    },
    network: {
      protocol: `${netProtocol >>> 16}.${netProtocol & 0xffff}`,
      frames: nt.ops,
      framesPerSec: Math.round(nt.ops / elapsed),
      mbPerSec: Number((nt.bytes / elapsed / 1e6).toFixed(1)),
      pings: nt.pings,
      pingUs: {
        p50: Math.round(nt.p50us),
        p99: Math.round(nt.p99us),
        max: Math.round(nt.maxUs),
      },
      received: peer.received,
      errors: nt.errors,
      verifyFailures: peer.errors + Math.abs(nt.bulkSent - peer.received),
      switch: { ...vswitch.stats },
      host: netTraffic,
    },
    guestWakeups: result.wakeups,
  };
  const verified =
    summary.storage.errors === 0 &&
    summary.storage.verifyFailures === 0 &&
    summary.echo.errors === 0 &&
    summary.echo.verifyFailures === 0 &&
    summary.network.errors === 0 &&
    summary.network.verifyFailures === 0;
  if (options.json) {
    io.out(`${JSON.stringify({ ...summary, verified })}\n`);
  } else {
    const { style } = io;
    const rows = [
      ['device', 'requests', 'per second', 'MB/s', 'p50 us', 'p99 us', 'errors', 'verified'],
      [
        `storage (VSTOR ${summary.storage.protocol})`,
        String(summary.storage.ios),
        String(summary.storage.iops),
        String(summary.storage.mbPerSec),
        String(summary.storage.latencyUs.p50),
        String(summary.storage.latencyUs.p99),
        String(summary.storage.errors),
        summary.storage.verifyFailures === 0 ? 'yes' : `NO (${summary.storage.verifyFailures})`,
      ],
      [
        'echo',
        String(summary.echo.requests),
        String(summary.echo.perSec),
        String(Number((summary.echo.bytes / elapsed / 1e6).toFixed(1))),
        String(summary.echo.latencyUs.p50),
        String(summary.echo.latencyUs.p99),
        String(summary.echo.errors),
        summary.echo.verifyFailures === 0 ? 'yes' : `NO (${summary.echo.verifyFailures})`,
      ],
      [
        `network (NVSP ${summary.network.protocol}, ping)`,
        String(summary.network.frames),
        String(summary.network.framesPerSec),
        String(summary.network.mbPerSec),
        String(summary.network.pingUs.p50),
        String(summary.network.pingUs.p99),
        String(summary.network.errors),
        summary.network.verifyFailures === 0 ? 'yes' : `NO (${summary.network.verifyFailures})`,
      ],
    ];
    const ringRow = (name: string, t: typeof storageTraffic) => [
      name,
      `${t.packetsIn}/${t.packetsOut}`,
      `${mb(t.bytesIn)}/${mb(t.bytesOut)}`,
      String(t.interruptsSent),
      String(t.interruptsSuppressed),
      String(t.interruptsReceived),
      `${(t.ringHighWaterBytes / 1024).toFixed(1)} KiB`,
      String(t.ringFull),
    ];
    const ringRows = [
      [
        'host side of the rings',
        'packets in/out',
        'MB in/out',
        'irq sent',
        'irq suppressed',
        'irq received',
        'out ring high-water',
        'ring full',
      ],
      ringRow('storage', storageTraffic),
      ringRow('echo', echoTraffic),
      ringRow('network (both NICs)', netTraffic),
    ];
    io.out(
      `${style.bold(`vmbus demo: ${summary.seconds} s, two guest partitions in workers`)}\n${table(rows)}\n\n${table(ringRows)}\n`,
    );
    io.out(
      `${verified ? style.green('every device verified its data') : style.red('verification FAILED')}\n`,
    );
  }
  return verified ? 0 : 1;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows
    .map((r) =>
      r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  '),
    )
    .join('\n');
}

function mb(bytes: number): string {
  return (bytes / 1e6).toFixed(1);
}

function fmt(x: number): string {
  return x >= 100 ? Math.round(x).toLocaleString('en-US') : x.toFixed(1);
}
