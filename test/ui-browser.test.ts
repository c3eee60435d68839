/// <reference lib="dom" />
/**
 * The page of `vmbus ui` in a real headless Chromium (Debian's `chromium`,
 * driven by playwright-core), with the bus running in the page's own
 * workers: it loads without console errors, shows the offered channels,
 * the indices move while the workload runs, pausing a channel stops them,
 * a dropped interrupt stalls a channel until one is raised, the workload
 * can be held and released, a corrupted index shows the typed error and
 * the guest closes the channel; the page also works with the bus in the
 * server (`--bus node`); and `--image` on a damaged vector marks the damage.
 *
 * Runs when Chromium is present (`CHROMIUM_PATH` or /usr/bin/chromium);
 * `.ci/run` installs it and sets VMBUS_REQUIRE_BROWSER=1, which turns a
 * missing browser into a failure instead of a skip.
 */

import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { type Browser, chromium, type Page } from 'playwright-core';
import { ringVectors } from './shared-paths.js';
import { startUi, stopAll } from './ui-server.js';

const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const present = existsSync(executablePath);
if (!present && process.env.VMBUS_REQUIRE_BROWSER === '1')
  throw new Error(`VMBUS_REQUIRE_BROWSER=1 but there is no Chromium at ${executablePath}`);

let browser: Browser | null = null;
after(async () => {
  await browser?.close();
  stopAll();
});

async function open(url: string): Promise<{ page: Page; errors: string[] }> {
  browser ??= await chromium.launch({ executablePath, args: ['--no-sandbox'] });
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(url);
  return { page, errors };
}

const writes = (page: Page, selector: string) =>
  page.$$eval(`${selector} .indices`, (els) =>
    els.map((e) => (e as HTMLElement).dataset.write).join(','),
  );

describe('vmbus ui in Chromium', {
  skip: present ? false : `no Chromium at ${executablePath}`,
  timeout: 90_000,
}, () => {
  it('runs the bus in the browser: the channels, their indices move, and pausing one stops it', async () => {
    const { url } = await startUi();
    const { page, errors } = await open(url);
    assert.equal(await page.evaluate(() => crossOriginIsolated), true);
    await page.waitForFunction(
      () => document.querySelectorAll('.channel[data-state="open"]').length >= 5,
      null,
      {
        timeout: 20_000,
      },
    );
    const devices = await page.$$eval('.channel', (els) =>
      els.map((e) => (e as HTMLElement).dataset.device).sort(),
    );
    assert.deepEqual(devices, ['echo', 'network', 'network', 'storage', 'storage']);
    await page.waitForSelector('.channel[data-device="echo"] .gpadls:has-text("rings")', {
      timeout: 10_000,
    });
    assert.match(
      (await page.textContent('.channel[data-device="echo"] .gpadls')) ?? '',
      /0x[0-9a-f]+ rings \d+ pages/,
    );
    const before = await writes(page, '.channel');
    await page.waitForTimeout(500);
    assert.notEqual(await writes(page, '.channel'), before, 'the indices move');
    // Pause the echo channel with its button: its indices stop.
    const echo = '.channel[data-device="echo"]';
    await page.click(`${echo} button[data-action="pause"]`);
    await page.waitForSelector(`${echo} .kmcl:has-text("paused")`, { timeout: 10_000 });
    // The host → guest ring: a paused host writes nothing (the guest may still post a request or two).
    const hostRing = `${echo} .ringblock:first-child`;
    await page.waitForTimeout(200);
    const paused = await writes(page, hostRing);
    await page.waitForTimeout(500);
    assert.equal(await writes(page, hostRing), paused, 'a paused channel sends nothing');
    await page.click(`${echo} button[data-action="start"]`);
    await page.waitForFunction(
      ([sel, was]) =>
        Array.from(document.querySelectorAll(`${sel} .indices`))
          .map((e) => (e as HTMLElement).dataset.write)
          .join(',') !== was,
      [hostRing, paused] as const,
      { timeout: 10_000 },
    );
    // A packet's details open on click.
    // (dispatched in the page: the rings are redrawn ten times a second under the pointer)
    // Retried: under load a packet may drain between the query and the click.
    await page.waitForFunction(
      () => {
        // A live ring is a canvas: click where its first packet is drawn.
        const c = Array.from(document.querySelectorAll('canvas.ring')).find(
          (e) => Number((e as HTMLElement).dataset.packets) > 0,
        ) as HTMLCanvasElement | undefined;
        if (c) {
          const box = c.getBoundingClientRect();
          const at = (Number(c.dataset.first) + 4) / Number(c.dataset.size);
          c.dispatchEvent(
            new MouseEvent('click', {
              bubbles: true,
              clientX: box.left + at * box.width,
              clientY: box.top + 10,
            }),
          );
        }
        return document.querySelector('#details:not([hidden]) dl') !== null;
      },
      null,
      { timeout: 30_000, polling: 100 },
    );
    assert.match((await page.textContent('#details')) ?? '', /transaction id/);
    assert.match((await page.textContent('#mode')) ?? '', /in this browser/);
    // Drop an interrupt: the echo channel stalls with packets unread, until one is raised.
    const sent = async () =>
      Number(
        /packets in\/out \d+\/(\d+)/.exec((await page.textContent(`${echo} .counters`)) ?? '')?.[1],
      );
    const sendsMoreThan = (was: number) =>
      page.waitForFunction(
        ([sel, n]) =>
          Number(
            /packets in\/out \d+\/(\d+)/.exec(
              document.querySelector(`${sel} .counters`)?.textContent ?? '',
            )?.[1],
          ) > n,
        [echo, was] as const,
        { timeout: 10_000 },
      );
    await page.click(`${echo} button[data-action="drop-interrupt"]`);
    await page.waitForSelector(`${echo} .counters:has-text("dropped 1")`, { timeout: 10_000 });
    // (the numbers in text follow the bus a few times a second)
    await page.waitForTimeout(1000);
    const stalled = await sent();
    await page.waitForTimeout(1000);
    assert.equal(await sent(), stalled, 'a channel that missed its interrupt stalls');
    await page.click(`${echo} button[data-action="interrupt"]`);
    await sendsMoreThan(stalled);
    // Hold the workload, then let it run again.
    await page.selectOption('#rate', '0');
    await page.waitForSelector('#status:has-text("workload 0: done")');
    await page.waitForTimeout(1000);
    const held = await sent();
    await page.waitForTimeout(1000);
    assert.equal(await sent(), held, 'a held workload sends nothing');
    await page.selectOption('#rate', 'max');
    await sendsMoreThan(held);
    // Corrupt the host → guest write index: the typed error shows, and the guest closes the channel.
    await page.click(`${echo} button[data-action="corrupt"]`);
    await page.waitForSelector(`${echo} .fault[data-code="VMBUS_RING_BAD_WRITE_INDEX"]`, {
      timeout: 10_000,
    });
    await page.waitForSelector(`${echo}[data-state="offered"]`, { timeout: 10_000 });
    assert.deepEqual(errors, []);
  });

  it('also draws the bus when it runs in the server (--bus node)', async () => {
    const { url } = await startUi('--bus', 'node');
    const { page, errors } = await open(url);
    await page.waitForFunction(
      () => document.querySelectorAll('.channel[data-state="open"]').length >= 5,
      null,
      { timeout: 20_000 },
    );
    const before = await writes(page, '.channel');
    await page.waitForTimeout(500);
    assert.notEqual(await writes(page, '.channel'), before, 'the indices move');
    assert.match((await page.textContent('#mode')) ?? '', /in the server/);
    assert.deepEqual(errors, []);
  });

  it('marks the damage of every bad ring vector, with the good packets before it', async () => {
    const dir = join(ringVectors(), 'bad');
    const names = readdirSync(dir).filter((f) => f.endsWith('.img'));
    assert.ok(names.length >= 5);
    for (const name of names) {
      const expect = JSON.parse(readFileSync(join(dir, name.replace(/\.img$/, '.json')), 'utf8'))
        .expect as { packetsBeforeError: number };
      const { url, child } = await startUi('--image', join(dir, name));
      const { page, errors } = await open(url);
      await page.waitForSelector('.error', { timeout: 10_000 });
      assert.match(
        (await page.textContent('.error')) ?? '',
        /damaged at \d+: VMBUS_[A-Z0-9_]+/,
        name,
      );
      assert.equal(
        await page.$$eval('.packet-row', (rows) => rows.length),
        expect.packetsBeforeError,
        `${name}: the good packets before the damage`,
      );
      assert.ok(await page.isVisible('.ring .damage'), `${name}: the damage drawn`);
      assert.deepEqual(errors, [], name);
      await page.close();
      child.kill('SIGINT');
    }
  });
});
