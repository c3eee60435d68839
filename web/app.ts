/**
 * The page of `vmbus ui`: draws every channel's rings (read and write
 * index, the used region, each packet coloured by type, interrupt mask and
 * pending-send size), its counters and a throughput chart; buttons pause,
 * start and rescind a channel, corrupt its ring index, drop an interrupt
 * or raise one; a selector limits the workload; a click on a packet shows
 * its descriptor, ranges and bytes. With `--image` it draws the one ring
 * of the file and marks where it is damaged.
 *
 * The live bus runs in this browser (`--bus browser`, the default): the
 * host in a module worker (host-worker.js), each guest in one of its own,
 * over SharedArrayBuffer; this page asks the host for the channels' states
 * at display rate and reads the rings from guest memory itself. With
 * `--bus node` the bus runs in the server, which streams its state.
 */

import type { ChannelView, RingLocation } from '../src/demo/demo-bus.js';
import { type PacketView, type RingView, viewRing } from '../src/demo/ring-view.js';
import { RingMemory } from '../src/ring/ring-memory.js';

// The shapes the bus produces (in this page's worker, or as the server's JSON).
type Packet = PacketView;
type Ring = RingView;
type Channel = ChannelView;

type State =
  | { mode: 'live'; time: number; channels: Channel[]; rate?: number }
  | { mode: 'image'; file: string; ring: Ring };
type Boot = State | { mode: 'browser'; fps: number };

const app = document.getElementById('app') as HTMLElement;
const details = document.getElementById('details') as HTMLElement;
const statusLine = document.getElementById('status') as HTMLElement;
const modeLabel = document.getElementById('mode') as HTMLElement;
const TYPE_NAMES: Record<number, string> = {
  6: 'in-band',
  7: 'transfer-page',
  9: 'GPA-direct',
  11: 'completion',
};
const TYPE_COLOURS: Record<number, string> = {
  6: '#4e79a7',
  7: '#59a14f',
  9: '#f28e2b',
  11: '#b07aa1',
};
const W = 640;
const rates = new Map<string, number[]>();
let previous: { time: number; packets: Map<string, number> } | null = null;

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function ringSvg(ring: Ring, key: string): string {
  const x = (off: number) => (off / ring.dataSize) * W;
  const parts: string[] = [`<rect class="area" x="0" y="0" width="${W}" height="22"/>`];
  for (const [i, p] of ring.packets.entries()) {
    const len = p.len8 * 8 + 8;
    const start = p.offset;
    const end = start + len;
    const colour = TYPE_COLOURS[p.type] ?? '#999';
    const piece = (a: number, b: number) =>
      `<rect class="packet" data-key="${key}" data-index="${i}" data-offset="${p.offset}" x="${x(a)}" y="2" width="${Math.max(1, x(b) - x(a))}" height="18" fill="${colour}"><title>${TYPE_NAMES[p.type] ?? `type ${p.type}`} at ${p.offset}, ${len} bytes</title></rect>`;
    if (end <= ring.dataSize) parts.push(piece(start, end));
    else parts.push(piece(start, ring.dataSize), piece(0, end - ring.dataSize));
  }
  if (ring.error)
    parts.push(
      `<rect class="damage" x="${x(ring.error.offset)}" y="0" width="3" height="22"><title>${esc(ring.error.code)}: ${esc(ring.error.reason)}</title></rect>`,
    );
  parts.push(
    `<line class="read" x1="${x(ring.readIndex)}" x2="${x(ring.readIndex)}" y1="0" y2="22"/>`,
  );
  parts.push(
    `<line class="write" x1="${x(ring.writeIndex)}" x2="${x(ring.writeIndex)}" y1="0" y2="22"/>`,
  );
  return `<svg class="ring" viewBox="0 0 ${W} 22" width="${W}" height="22">${parts.join('')}</svg>`;
}

function ringBlock(name: string, ring: Ring, key: string): string {
  const damage = ring.error
    ? `<div class="error" data-code="${esc(ring.error.code)}">damaged at ${ring.error.offset}: ${esc(ring.error.code)} — ${esc(ring.error.reason)}</div>`
    : '';
  return `<div class="ringblock"><div class="ringname">${name}</div>${ringSvg(ring, key)}
  <div class="indices" data-read="${ring.readIndex}" data-write="${ring.writeIndex}">read ${ring.readIndex} · write ${ring.writeIndex} · used ${ring.usedBytes}/${ring.dataSize} · ${ring.packets.length} packets · interrupt mask ${ring.interruptMask} · pending send ${ring.pendingSendSize}</div>${damage}</div>`;
}

let rings = new Map<string, Ring>();
/** The rings of the render before: a click may land just after the page was redrawn. */
let earlier = new Map<string, Ring>();

/** Height of the line of numbers drawn under a live ring's bar. */
const RING_TEXT = 16;

/** One live ring: a canvas redrawn only when the ring changed, and its text. */
interface RingWidget {
  block: HTMLElement;
  canvas: HTMLCanvasElement;
  indices: HTMLElement;
  error: HTMLElement;
  /** What the canvas shows now (indices, packets, damage), to skip a redraw. */
  drawn: string;
}

function ringWidget(parent: HTMLElement, name: string, key: string): RingWidget {
  const block = document.createElement('div');
  block.className = 'ringblock';
  block.innerHTML = `<div class="ringname">${name}</div><canvas class="ring" width="${W}" height="${22 + RING_TEXT}" data-key="${key}" role="img"></canvas><div class="indices"></div><div class="error" hidden></div>`;
  parent.appendChild(block);
  return {
    block,
    canvas: block.querySelector('canvas') as HTMLCanvasElement,
    indices: block.querySelector('.indices') as HTMLElement,
    error: block.querySelector('.error') as HTMLElement,
    drawn: '',
  };
}

/** Draws `ring` into its widget if anything visible changed. */
function drawRing(w: RingWidget, ring: Ring): void {
  const first = ring.packets[0]?.offset ?? -1;
  const signature = `${ring.readIndex}/${ring.writeIndex}/${ring.packets.length}/${first}/${ring.error?.offset ?? ''}/${ring.interruptMask}/${ring.pendingSendSize}`;
  if (ring.error) {
    w.error.hidden = false;
    w.error.dataset.code = ring.error.code;
    setText(w.error, `damaged at ${ring.error.offset}: ${ring.error.code} — ${ring.error.reason}`);
  } else if (!w.error.hidden) w.error.hidden = true;
  if (signature === w.drawn) return;
  w.drawn = signature;
  // The ring's numbers are drawn with it, so the two always agree (and a
  // canvas line costs the page no layout).
  const numbers = `read ${ring.readIndex} · write ${ring.writeIndex} · used ${ring.usedBytes}/${ring.dataSize} · ${ring.packets.length} packets · interrupt mask ${ring.interruptMask} · pending send ${ring.pendingSendSize}`;
  w.canvas.setAttribute('aria-label', numbers);
  w.indices.dataset.read = String(ring.readIndex);
  w.indices.dataset.write = String(ring.writeIndex);
  w.canvas.dataset.packets = String(ring.packets.length);
  w.canvas.dataset.first = String(first);
  w.canvas.dataset.size = String(ring.dataSize);
  const g = w.canvas.getContext('2d');
  if (!g) return;
  const x = (off: number) => (off / ring.dataSize) * W;
  g.fillStyle = '#eee';
  g.fillRect(0, 0, W, 22);
  for (const p of ring.packets) {
    const end = p.offset + p.len8 * 8 + 8;
    g.fillStyle = TYPE_COLOURS[p.type] ?? '#999';
    if (end <= ring.dataSize) g.fillRect(x(p.offset), 2, Math.max(1, x(end) - x(p.offset)), 18);
    else {
      g.fillRect(x(p.offset), 2, Math.max(1, W - x(p.offset)), 18);
      g.fillRect(0, 2, Math.max(1, x(end - ring.dataSize)), 18);
    }
  }
  if (ring.error) {
    g.fillStyle = '#d62728';
    g.fillRect(x(ring.error.offset), 0, 3, 22);
  }
  g.fillStyle = '#d62728';
  g.fillRect(x(ring.readIndex) - 1, 0, 2, 22);
  g.fillStyle = '#2ca02c';
  g.fillRect(x(ring.writeIndex) - 1, 0, 2, 22);
  g.fillStyle = '#fff';
  g.fillRect(0, 22, W, RING_TEXT);
  g.fillStyle = '#444';
  g.font = '12px system-ui, sans-serif';
  g.textBaseline = 'top';
  g.fillText(numbers, 0, 24);
}

/** The packet of `ring` that covers data-area offset `at`, if any. */
function packetAt(ring: Ring, at: number): Packet | undefined {
  return ring.packets.find((p) => (at - p.offset + ring.dataSize) % ring.dataSize < p.len8 * 8 + 8);
}

/** The sparkline: a small canvas redrawn each sample. */
function drawSpark(canvas: HTMLCanvasElement, values: number[]): void {
  const g = canvas.getContext('2d');
  if (!g) return;
  const max = Math.max(1, ...values);
  g.clearRect(0, 0, 160, 30);
  g.strokeStyle = '#4e79a7';
  g.lineWidth = 1.5;
  g.beginPath();
  values.forEach((v, i) => {
    const px = (i / Math.max(1, values.length - 1)) * 160;
    const py = 30 - (v / max) * 28;
    if (i === 0) g.moveTo(px, py);
    else g.lineTo(px, py);
  });
  g.stroke();
}

interface ChannelElements {
  section: HTMLElement;
  name: HTMLElement;
  state: HTMLElement;
  kmcl: HTMLElement;
  rings: HTMLElement;
  widgets: { toGuest: RingWidget; toHost: RingWidget } | null;
  fault: HTMLElement;
  counters: HTMLElement;
  gpadls: HTMLElement;
  spark: HTMLCanvasElement;
  rate: HTMLElement;
}

/** The sections drawn so far, by channel: built once, then only their changing parts are updated. */
const drawn = new Map<string, ChannelElements>();

/** Milliseconds between updates of the numbers in text. */
const TEXT_EVERY_MS = 400;
let lastText = Number.NEGATIVE_INFINITY;

function setText(el: HTMLElement, text: string): void {
  if (el.textContent !== text) el.textContent = text;
}

function renderLive(state: Extract<State, { mode: 'live' }>): void {
  if (modeLabel.textContent === '') modeLabel.textContent = 'live bus (in the server)';
  const packets = new Map<string, number>();
  const dt = previous ? (state.time - previous.time) / 1000 : 0;
  // The drawings follow every sample; numbers in text change at most a few
  // times a second (readable, and text is what costs the page most to paint).
  const text = state.time - lastText >= TEXT_EVERY_MS;
  if (text) lastText = state.time;
  earlier = rings;
  rings = new Map();
  if (drawn.size === 0) app.textContent = '';
  const seen = new Set<string>();
  for (const c of state.channels) {
    const id = `${c.partition}/${c.relid}`;
    seen.add(id);
    const total = c.counters ? c.counters.packetsSent + c.counters.packetsReceived : 0;
    packets.set(id, total);
    const before = previous?.packets.get(id);
    const series = rates.get(id) ?? [];
    if (before !== undefined && dt > 0) series.push((total - before) / dt);
    while (series.length > 60) series.shift();
    rates.set(id, series);
    let el = drawn.get(id);
    const fresh = !el;
    if (!el) {
      const partition = Number(c.partition.replace(/\D/g, '')) - 1;
      const buttons = ['pause', 'start', 'rescind', 'corrupt', 'drop-interrupt', 'interrupt']
        .map(
          (a) =>
            `<button data-action="${a}" data-partition="${partition}" data-relid="${c.relid}">${a.replace('-', ' ')}</button>`,
        )
        .join('');
      const section = document.createElement('section');
      section.className = 'channel';
      section.dataset.id = id;
      section.dataset.device = c.device;
      section.innerHTML = `<h2><span class="name">${esc(c.partition)} · ${esc(c.device)}${c.subchannel ? ` queue ${c.subchannel}` : ''} · channel ${c.relid}</span> <span class="state"></span> <span class="kmcl"></span> ${buttons}</h2>
        <div class="rings"></div><div class="fault"></div><div class="counters"></div><div class="gpadls"></div><canvas class="spark" width="160" height="30"></canvas><span class="rate"></span>`;
      app.appendChild(section);
      const q = (sel: string) => section.querySelector(sel) as HTMLElement;
      el = {
        section,
        name: q('.name'),
        state: q('.state'),
        kmcl: q('.kmcl'),
        rings: q('.rings'),
        widgets: null,
        fault: q('.fault'),
        counters: q('.counters'),
        gpadls: q('.gpadls'),
        spark: q('.spark') as unknown as HTMLCanvasElement,
        rate: q('.rate'),
      };
      drawn.set(id, el);
    }
    if (el.section.dataset.state !== c.state) el.section.dataset.state = c.state;
    el.name.dataset.history = (c.kmcl?.history ?? []).join(' → ');
    setText(el.state, c.state);
    const kmclState = c.kmcl
      ? `KMCL ${c.kmcl.state}${c.kmcl.paused ? ', paused' : c.kmcl.started ? ', started' : ''}`
      : '';
    // A state change shows at once; the outstanding count with the other numbers.
    if (text || fresh || !(el.kmcl.textContent ?? '').startsWith(kmclState))
      setText(el.kmcl, c.kmcl ? `${kmclState}, ${c.kmcl.outstanding} outstanding` : '');
    if (c.fault && !el.fault.dataset.code) {
      el.fault.dataset.code = c.fault.code;
      el.fault.className = 'fault error';
      el.fault.textContent = `injected fault: the host → guest ring reads as damaged at ${c.fault.offset}: ${c.fault.code} — ${c.fault.reason}`;
    }
    if (c.rings) {
      rings.set(`${id}/out`, c.rings.toGuest);
      rings.set(`${id}/in`, c.rings.toHost);
      el.widgets ??= {
        toGuest: ringWidget(el.rings, 'host → guest', `${id}/out`),
        toHost: ringWidget(el.rings, 'guest → host', `${id}/in`),
      };
      // Only a ring whose indices, packets or damage changed is redrawn.
      drawRing(el.widgets.toGuest, c.rings.toGuest);
      drawRing(el.widgets.toHost, c.rings.toHost);
    } else if (el.widgets) {
      el.rings.textContent = '';
      el.widgets = null;
    }
    if (!(text || fresh)) continue;
    setText(
      el.counters,
      c.counters
        ? `partition GPADLs ${c.gpadls} · packets in/out ${c.counters.packetsReceived}/${c.counters.packetsSent} · bytes in/out ${c.counters.bytesReceived}/${c.counters.bytesSent} · irq sent ${c.counters.interruptsSent}, suppressed ${c.counters.interruptsSuppressed}, received ${c.counters.interruptsReceived}, dropped ${c.counters.interruptsDropped}${c.dropping ? ` (dropping the next ${c.dropping})` : ''}`
        : '',
    );
    const kib = (n: number) =>
      n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MiB` : `${n >> 10} KiB`;
    setText(
      el.gpadls,
      c.channelGpadls?.length
        ? `GPADLs: ${c.channelGpadls
            .map(
              (g) =>
                `0x${g.handle.toString(16)} ${g.rings ? 'rings' : 'buffer'} ${g.pages} pages (${kib(g.bytes)})${g.mapped ? ' mapped' : ''}${g.ready ? '' : ' (being described)'}`,
            )
            .join(' · ')}`
        : '',
    );
    drawSpark(el.spark, series);
    setText(el.rate, `${Math.round(series.at(-1) ?? 0)} packets/s`);
  }
  for (const [id, el] of drawn) {
    if (!seen.has(id)) {
      el.section.remove();
      drawn.delete(id);
    }
  }
  previous = { time: state.time, packets };
  // The sample's time and the packets of every channel so far, for tools
  // that measure the bus through the page.
  let sum = 0;
  for (const n of packets.values()) sum += n;
  app.dataset.time = String(state.time);
  app.dataset.packets = String(sum);
}

function renderImage(state: Extract<State, { mode: 'image' }>): void {
  modeLabel.textContent = `ring image ${state.file}`;
  rings = new Map();
  rings.set('image', state.ring);
  const table = state.ring.packets
    .map(
      (p, i) =>
        `<tr class="packet-row" data-key="image" data-index="${i}" data-offset="${p.offset}"><td>${p.offset}</td><td>${TYPE_NAMES[p.type] ?? p.type}</td><td>${p.flags}</td><td>${p.offset8}</td><td>${p.len8}</td><td>${p.transactionId}</td></tr>`,
    )
    .join('');
  app.innerHTML = `<section class="channel image">${ringBlock('ring', state.ring, 'image')}
  <table class="packets"><thead><tr><th>offset</th><th>type</th><th>flags</th><th>offset8</th><th>len8</th><th>transaction id</th></tr></thead><tbody>${table}</tbody></table></section>`;
}

function render(state: State): void {
  if (state.mode === 'live') renderLive(state);
  else renderImage(state);
}

/** The packet at `offset` of ring `key` decoded in full now (the bus in this page), if it is still there. */
let fullPacket: (key: string, offset: number) => Packet | undefined = () => undefined;

function showPacket(key: string, found: Packet): void {
  const p = found.payload === undefined ? (fullPacket(key, found.offset) ?? found) : found;
  const hex =
    p.payload === undefined
      ? 'drained before it could be read in full'
      : (p.payload.match(/.{1,32}/g) ?? []).map((l) => l.replace(/(..)/g, '$1 ')).join('\n');
  const ranges = (p.ranges ?? [])
    .map(
      (r) =>
        `<li>${r.byteCount} bytes at ${r.byteOffset}${r.pfns ? `, PFNs ${r.pfns.join(' ')}` : ''}</li>`,
    )
    .join('');
  details.hidden = false;
  details.innerHTML = `<h3>${TYPE_NAMES[p.type] ?? `type ${p.type}`} packet</h3>
  <dl><dt>offset</dt><dd>${p.offset}</dd><dt>flags</dt><dd>${p.flags}</dd><dt>offset8 / len8</dt><dd>${p.offset8} / ${p.len8}</dd><dt>transaction id</dt><dd>${p.transactionId ?? '?'}</dd>${p.transferPageSetId !== undefined ? `<dt>transfer page set</dt><dd>${p.transferPageSetId}</dd>` : ''}</dl>
  ${ranges ? `<ul>${ranges}</ul>` : ''}<pre class="hex">${hex}</pre>`;
}

/** How the page acts on the bus: the worker it runs, or the server that runs it. */
let actOn: (partition: number, relid: number, action: string) => Promise<string> = async (
  partition,
  relid,
  action,
) => {
  const r = await fetch(`/api/channel/${partition}/${relid}/${action}`, { method: 'POST' });
  return r.ok ? 'done' : (await r.text()).slice(0, 200);
};
let setRate: (value: number) => Promise<string> = async (value) => {
  const r = await fetch(`/api/rate/${Number.isFinite(value) ? value : 'max'}`, { method: 'POST' });
  return r.ok ? 'done' : (await r.text()).slice(0, 200);
};

document.addEventListener('click', (e) => {
  const target = e.target as Element;
  const button = target.closest('button[data-action]') as HTMLButtonElement | null;
  if (button) {
    const { action, partition, relid } = button.dataset;
    void actOn(Number(partition), Number(relid), action ?? '').then((outcome) => {
      statusLine.textContent = `${action}: ${outcome}`;
    });
    return;
  }
  // A live ring is a canvas: the click's position is the data-area offset.
  if (target instanceof HTMLCanvasElement && target.classList.contains('ring')) {
    const key = target.dataset.key ?? '';
    const ring = rings.get(key) ?? earlier.get(key);
    const box = target.getBoundingClientRect();
    const at = ring
      ? Math.floor((((e as MouseEvent).clientX - box.left) / box.width) * ring.dataSize)
      : -1;
    const p = ring && at >= 0 ? packetAt(ring, at) : undefined;
    if (p) showPacket(key, p);
    return;
  }
  // A ring image: its SVG packets and its table rows.
  const packet = target.closest('[data-key]') as HTMLElement | SVGElement | null;
  if (packet) {
    const el = packet as HTMLElement;
    const key = el.dataset.key ?? '';
    const offset = Number(el.dataset.offset);
    const p = rings.get(key)?.packets.find((q) => q.offset === offset);
    if (p) showPacket(key, p);
    return;
  }
  const name = target.closest('.name') as HTMLElement | null;
  if (name) {
    details.hidden = false;
    details.innerHTML = `<h3>callback history</h3><p>${esc(name.dataset.history ?? '')}</p>`;
  }
});

const rateSelect = document.getElementById('rate') as HTMLSelectElement | null;
rateSelect?.addEventListener('change', () => {
  const value = rateSelect.value === 'max' ? Number.POSITIVE_INFINITY : Number(rateSelect.value);
  void setRate(value).then((outcome) => {
    statusLine.textContent = `workload ${rateSelect.value}: ${outcome}`;
  });
});

/** Runs the bus in workers of this page and samples it at `fps`. */
function runInBrowser(fps: number): void {
  modeLabel.textContent = 'live bus (in this browser)';
  if (!crossOriginIsolated) {
    statusLine.textContent = 'this page is not cross-origin isolated: no SharedArrayBuffer';
    return;
  }
  const worker = new Worker('/host-worker.js', { type: 'module' });
  const waiting = new Map<number, (outcome: string) => void>();
  let nextId = 1;
  const ask = (message: Record<string, unknown>) =>
    new Promise<string>((resolve) => {
      const id = nextId++;
      waiting.set(id, resolve);
      worker.postMessage({ ...message, id });
    });
  actOn = (partition, relid, action) => ask({ kind: 'act', partition, relid, action });
  setRate = (value) => ask({ kind: 'rate', value });
  let memories: SharedArrayBuffer[] = [];
  const ringMemories = new Map<string, RingMemory>();
  /** The ring memories by drawing key (`partition/relid/out|in`). */
  const sources = new Map<string, RingMemory>();
  const ring = (at: RingLocation, key: string): Ring => {
    const where = `${at.memory}/${at.offset}/${at.length}`;
    let m = ringMemories.get(where);
    if (!m) {
      m = new RingMemory(memories[at.memory]!, at.offset, at.length);
      ringMemories.set(where, m);
    }
    sources.set(key, m);
    // Descriptors only at display rate; a click decodes the packet in full.
    return viewRing(m, 128, 'outline');
  };
  fullPacket = (key, offset) => {
    const m = sources.get(key);
    try {
      return m ? viewRing(m, 4096, 'full').packets.find((p) => p.offset === offset) : undefined;
    } catch {
      return undefined; // the outline is shown instead
    }
  };
  let outstanding = false;
  worker.onmessage = (e: MessageEvent) => {
    const m = e.data as
      | { kind: 'memories'; memories: SharedArrayBuffer[] }
      | { kind: 'snapshot'; time: number; rate: number; channels: Channel[] }
      | { kind: 'acted'; id: number; ok: boolean; error?: string }
      | { kind: 'guest-error'; which: string; message: string };
    if (m.kind === 'memories') memories = m.memories;
    else if (m.kind === 'acted') {
      waiting.get(m.id)?.(m.ok ? 'done' : (m.error ?? 'no such channel'));
      waiting.delete(m.id);
    } else if (m.kind === 'guest-error') {
      statusLine.textContent = `${m.which}: ${m.message}`;
    } else if (m.kind === 'snapshot') {
      outstanding = false;
      for (const c of m.channels) {
        const at = c.ringLocations;
        const id = `${c.partition}/${c.relid}`;
        c.rings =
          at && memories.length > 0
            ? { toGuest: ring(at.toGuest, `${id}/out`), toHost: ring(at.toHost, `${id}/in`) }
            : null;
      }
      render({ mode: 'live', time: m.time, channels: m.channels, rate: m.rate });
    }
  };
  worker.onerror = (e) => {
    statusLine.textContent = `the bus worker failed: ${e.message}`;
  };
  // One sample in flight at a time: a busy page asks less often, never queues.
  let timer: ReturnType<typeof setInterval> | undefined;
  const sampleAt = (perSecond: number) => {
    clearInterval(timer);
    outstanding = false;
    if (perSecond > 0)
      timer = setInterval(() => {
        if (outstanding) return;
        outstanding = true;
        worker.postMessage({ kind: 'sample' });
      }, 1000 / perSecond);
  };
  // "frozen" stops sampling: the drawing holds still (to study a packet) and the bus runs untouched.
  const fpsSelect = document.getElementById('fps') as HTMLSelectElement | null;
  if (fpsSelect) {
    if (![...fpsSelect.options].some((o) => o.value === String(fps)))
      fpsSelect.add(new Option(`${fps}/s`, String(fps)));
    fpsSelect.value = String(fps);
    fpsSelect.addEventListener('change', () => sampleAt(Number(fpsSelect.value)));
  }
  sampleAt(fps);
}

const first = await fetch('/state').then((r) => r.json() as Promise<Boot>);
if (first.mode === 'browser') runInBrowser(first.fps);
else {
  render(first);
  if (first.mode === 'live') {
    const events = new EventSource('/events');
    events.onmessage = (e) => render(JSON.parse(e.data) as State);
    events.onerror = () => {
      statusLine.textContent = 'disconnected';
    };
  }
}
if (first.mode === 'image' && rateSelect) (rateSelect.parentElement ?? rateSelect).hidden = true;
// Sampling is the page's own only when the bus runs here.
const redraw = document.getElementById('redraw');
if (first.mode !== 'browser' && redraw) redraw.hidden = true;
