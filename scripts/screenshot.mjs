// Regenerates docs/ui.png: starts `vmbus ui` on a free port, opens the page
// in headless Chromium (CHROMIUM_PATH or /usr/bin/chromium), lets the live
// bus run for two seconds, and saves a screenshot. Run: npm run screenshot
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { startUi } from '../dist/test/ui-server.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const { url, child } = await startUi();
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: ['--no-sandbox'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  await page.goto(url);
  await page.waitForFunction(
    () => document.querySelectorAll('.channel[data-state="open"]').length >= 5,
  );
  await page.waitForTimeout(2000);
  await page.screenshot({ path: `${root}docs/ui.png` });
  console.log('wrote docs/ui.png');
} finally {
  await browser.close();
  child.kill('SIGINT');
}
