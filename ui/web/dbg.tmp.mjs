import { chromium } from 'playwright-core';
import fs from 'node:fs';
const dir = fs.mkdtempSync('/tmp/chr-');
const ctx = await chromium.launchPersistentContext(dir, { executablePath: '/usr/bin/chromium', headless: true,
  args: ['--no-sandbox','--disable-gpu'], viewport: { width: 1440, height: 900 } });
const page = await ctx.newPage();
page.on('pageerror', e => console.log('pageerror:', e.message));
page.on('console', m => console.log('console:', m.text()));
page.on('response', r => { if (r.status() >= 400) console.log('HTTP', r.status(), r.url()); });
for (const u of process.argv.slice(2)) {
  await page.goto('http://127.0.0.1:17999' + u);
  await page.waitForTimeout(5000);
  await page.screenshot({ path: '/tmp/dbg-' + u.split('?')[0].replace(/\//g, '_') + '.png' });
  console.log(u, (await page.locator('main').innerText()).slice(0, 500));
}
await ctx.close();
