/**
 * `vmbus ui`: serves a page on localhost that shows the bus live — every
 * channel with its state, both rings drawn with their indices, interrupt
 * mask, pending-send size and the packets in them, counters and a
 * throughput chart — with controls that pause, start, rescind a channel,
 * corrupt its ring, drop or raise an interrupt and limit the workload; or,
 * with `--image FILE`, one ring image from disk with its packets and where
 * it is damaged.
 *
 * With `--bus browser` (the default) the bus runs in the page's own
 * workers and this server only serves files (with the cross-origin
 * isolation headers SharedArrayBuffer needs). With `--bus node` the bus
 * runs here (host in this thread, guests in workers) and its state streams
 * to the page as server-sent events at `--fps`.
 *
 * @module
 */

import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { CHANNEL_ACTIONS, type ChannelAction } from '../demo/demo-bus.js';
import { decodeRingImage } from '../ring/ring-image.js';
import { startNodeDemoBus } from './demo-workers.js';
import type { CommandOutput } from './ring-command.js';
import { readImage } from './ring-command.js';
import { UsageError } from './usage-error.js';

/** Options of `vmbus ui`. */
export interface UiOptions {
  port: number;
  host: string;
  image?: string;
  /** Stop after this many seconds (tests); 0 runs until Ctrl-C. */
  seconds: number;
  /** Samples of the bus the page draws per second (default 5). */
  fps?: number;
  /** Where the live bus runs: in the page's workers (default) or in this process. */
  bus?: 'browser' | 'node';
}

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>vmbus ui</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/app.css">
</head>
<body>
<header><h1>vmbus ui</h1><span id="mode"></span>
<label>workload <select id="rate"><option value="max">as fast as it goes</option><option value="1000">1000 ops/s</option><option value="100">100 ops/s</option><option value="10">10 ops/s</option><option value="0">held</option></select></label>
<label id="redraw">samples <select id="fps"><option value="30">30/s</option><option value="10">10/s</option><option value="5" selected>5/s</option><option value="2">2/s</option><option value="0">frozen</option></select></label>
<span id="status"></span></header>
<main id="app"><p>Connecting…</p></main>
<aside id="details" hidden></aside>
<script type="module" src="/app.js"></script>
</body>
</html>
`;

/**
 * Runs the server until Ctrl-C (or `seconds`).
 *
 * @param options - port, address, image
 * @param io - output (the first line is the address)
 * @returns exit status
 * @throws UsageError for a missing or malformed image, or a port in use
 */
export async function runUi(options: UiOptions, io: CommandOutput): Promise<number> {
  const assets = new URL('../../web/', import.meta.url);
  const files = new Map<string, Buffer>();
  try {
    for (const name of ['app.js', 'app.css', 'host-worker.js', 'guest-worker.js'])
      files.set(`/${name}`, readFileSync(new URL(name, assets)));
  } catch {
    throw new UsageError('the page is not built: run npm run build');
  }
  // --image: the file is read and decoded once; a bad file changes nothing and is a usage error.
  const image = options.image ? imageState(options.image) : null;
  const inBrowser = (options.bus ?? 'browser') === 'browser';
  const bus = image || inBrowser ? null : startNodeDemoBus();
  const fps = options.fps ?? 5;
  const state = () =>
    image ??
    (bus
      ? { mode: 'live', time: performance.now(), rate: bus.rate, channels: bus.snapshot() }
      : { mode: 'browser', fps });

  const clients = new Set<ServerResponse>();
  const server = createServer((req, res) => void route(req, res));
  const headers = {
    // Cross-origin isolation, so a page may use SharedArrayBuffer.
    'Cross-Origin-Opener-Policy': 'same-origin',
    'Cross-Origin-Embedder-Policy': 'require-corp',
    'Cache-Control': 'no-store',
  };
  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const send = (status: number, type: string, body: string | Buffer) => {
      res.writeHead(status, { ...headers, 'Content-Type': type });
      res.end(body);
    };
    try {
      if (req.method === 'GET' && url.pathname === '/')
        return send(200, 'text/html; charset=utf-8', PAGE);
      const file = req.method === 'GET' ? files.get(url.pathname) : undefined;
      if (file)
        return send(
          200,
          url.pathname.endsWith('.css')
            ? 'text/css; charset=utf-8'
            : 'text/javascript; charset=utf-8',
          file,
        );
      if (req.method === 'GET' && url.pathname === '/favicon.ico') {
        res.writeHead(204, headers);
        res.end();
        return;
      }
      if (req.method === 'GET' && url.pathname === '/state')
        return send(200, 'application/json', JSON.stringify(state()));
      if (req.method === 'GET' && url.pathname === '/events' && bus) {
        res.writeHead(200, {
          ...headers,
          'Content-Type': 'text/event-stream',
          Connection: 'keep-alive',
        });
        res.write(`data: ${JSON.stringify(state())}\n\n`);
        clients.add(res);
        req.on('close', () => clients.delete(res));
        return;
      }
      const m = /^\/api\/channel\/(\d+)\/(\d+)\/([a-z-]+)$/.exec(url.pathname);
      if (req.method === 'POST' && m && bus && CHANNEL_ACTIONS.includes(m[3] as ChannelAction)) {
        const ok = await bus.act(Number(m[1]), Number(m[2]), m[3] as ChannelAction);
        return send(ok ? 200 : 404, 'application/json', JSON.stringify({ ok }));
      }
      const r = /^\/api\/rate\/(max|\d+)$/.exec(url.pathname);
      if (req.method === 'POST' && r && bus) {
        bus.setRate(r[1] === 'max' ? Number.POSITIVE_INFINITY : Number(r[1]));
        return send(200, 'application/json', JSON.stringify({ ok: true }));
      }
      send(404, 'text/plain', 'not found');
    } catch (e) {
      send(409, 'application/json', JSON.stringify({ error: (e as Error).message }));
    }
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(
        new UsageError(`cannot listen on ${options.host}:${options.port}: ${e.code ?? e.message}`),
      ),
    );
    server.listen(options.port, options.host, () => resolve());
  }).catch(async (e) => {
    await bus?.close();
    throw e;
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  io.out(
    `vmbus ui: http://${options.host}:${port}/ (${image ? `ring image ${options.image}` : inBrowser ? 'live bus in the browser' : 'live bus in this process'}; Ctrl-C stops)\n`,
  );
  // Sampled at display rate: the bus never waits for the page.
  const timer = setInterval(() => {
    if (clients.size === 0 || image) return;
    const line = `data: ${JSON.stringify(state())}\n\n`;
    for (const c of clients) c.write(line);
  }, 1000 / fps);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    if (options.seconds > 0) setTimeout(resolve, options.seconds * 1000).unref();
  });
  clearInterval(timer);
  for (const c of clients) c.end();
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  await bus?.close();
  return 0;
}

function imageState(path: string) {
  const bytes = readImage(path);
  const decoded = decodeRingImage(bytes);
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dataSize = bytes.length - 4096;
  const ring = {
    dataSize,
    writeIndex: v.getUint32(0, true),
    readIndex: v.getUint32(4, true),
    interruptMask: v.getUint32(8, true),
    pendingSendSize: v.getUint32(12, true),
    usedBytes: (v.getUint32(0, true) - v.getUint32(4, true) + dataSize) % dataSize,
    packets: decoded.packets,
    ...(decoded.error ? { error: decoded.error } : {}),
  };
  return { mode: 'image', file: path, ring };
}
