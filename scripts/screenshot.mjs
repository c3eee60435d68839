// Regenerates docs/ui.png: starts `vmbus ui` on a free port, opens the page
// in headless Chromium (CHROMIUM_PATH or /usr/bin/chromium), lets the live
// bus run for two seconds, and saves a screenshot. Run: npm run screenshot
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const root = fileURLToPath(new URL('..', import.meta.url));
const child = spawn(process.execPath, [`${root}dist/src/cli/main.js`, 'ui', '--port', '0'], {
  stdio: ['ignore', 'pipe', 'inherit'],
});
const url = await new Promise((resolve, reject) => {
  let out = '';
  child.stdout.on('data', (d) => {
    out += d;
    const m = /http:\/\/[\d.]+:\d+\//.exec(out);
    if (m) resolve(m[0]);
  });
  child.once('exit', (code) => reject(new Error(`vmbus ui exited with ${code}`)));
});
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
