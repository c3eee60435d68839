/**
 * What watching costs: the demo bus of `vmbus ui` runs in headless
 * Chromium (host and guests in the page's workers); in alternating windows
 * the page samples and draws it at `--fps` (default 5, as `vmbus ui`) or is frozen (no
 * samples at all), and the bus's packets per second (every channel, both
 * directions) are compared: sampling / frozen, median of the rounds.
 *
 * Run: `node dist/bench/ui-overhead.js [--fps N] [--rounds N] [--seconds N] [--no-draw]`
 * (needs Chromium: CHROMIUM_PATH or /usr/bin/chromium). `--no-draw` hides
 * the channels, so only sampling and decoding are paid for (a diagnosis:
 * what drawing costs is the difference).
 */

import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { chromium, type Page } from 'playwright-core';
import { startUi } from '../test/ui-server.js';
import { machine } from './harness.js';

const { values } = parseArgs({
  options: {
    fps: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '5' },
    seconds: { type: 'string', default: '4' },
    'no-draw': { type: 'boolean', default: false },
  },
});
const fps = Number(values.fps);
const rounds = Number(values.rounds);
const seconds = Number(values.seconds);
const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
if (!existsSync(executablePath)) {
  process.stderr.write(`ui-overhead: no Chromium at ${executablePath} (set CHROMIUM_PATH)\n`);
  process.exit(2);
}

const { url, child: server } = await startUi('--fps', String(fps));
const browser = await chromium.launch({ executablePath, args: ['--no-sandbox'] });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The last sample the page drew: its bus time (ms) and the packets of every channel so far. */
const sample = async (page: Page) =>
  page.$eval('#app', (el) => ({
    time: Number((el as HTMLElement).dataset.time),
    packets: Number((el as HTMLElement).dataset.packets),
  }));

/** Waits for the first sample drawn after `after` (bus time). */
async function nextSample(page: Page, after: number) {
  for (;;) {
    const s = await sample(page);
    if (s.time > after) return s;
    await sleep(20);
  }
}

try {
  const page = await browser.newPage();
  await page.goto(url);
  await page.waitForFunction(
    () => document.querySelectorAll('.channel[data-state="open"]').length >= 5,
    null,
    { timeout: 30_000 },
  );
  await page.selectOption('#fps', String(fps));
  if (values['no-draw']) await page.addStyleTag({ content: '.channel { display: none }' });
  await sleep(3000); // warm-up
  const ratios: number[] = [];
  const on: number[] = [];
  const off: number[] = [];
  for (let r = 0; r < rounds; r++) {
    // Sampling at fps.
    const a = await nextSample(page, (await sample(page)).time);
    await sleep(seconds * 1000);
    const b = await nextSample(page, a.time);
    const rateOn = ((b.packets - a.packets) / (b.time - a.time)) * 1000;
    // Frozen: no sample between the last one before and the first one after.
    await page.selectOption('#fps', '0');
    const c = await sample(page);
    await sleep(seconds * 1000);
    await page.selectOption('#fps', String(fps));
    const d = await nextSample(page, c.time);
    const rateOff = ((d.packets - c.packets) / (d.time - c.time)) * 1000;
    on.push(rateOn);
    off.push(rateOff);
    ratios.push(rateOn / rateOff);
    process.stdout.write(
      `round ${r + 1}: sampling ${Math.round(rateOn)} packets/s, frozen ${Math.round(rateOff)} packets/s, ratio ${(rateOn / rateOff).toFixed(3)}\n`,
    );
  }
  const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
  process.stdout.write(
    `\n# vmbus ui overhead\n${machine()}, Chromium ${browser.version()}\n` +
      `bus in the browser, sampling at ${fps}/s${values['no-draw'] ? ' (channels hidden: nothing drawn)' : ''} vs frozen, ${rounds} rounds of ${seconds} s each way\n` +
      `| case | packets/s | baseline | ratio |\n|---|---:|---|---:|\n` +
      `| ui/frozen | ${Math.round(median(off))} |  |  |\n` +
      `| ui/sampling/${fps}fps | ${Math.round(median(on))} | ui/frozen | ${median(ratios).toFixed(3)}x (median of rounds) |\n`,
  );
} finally {
  await browser.close();
  server.kill('SIGINT');
}
