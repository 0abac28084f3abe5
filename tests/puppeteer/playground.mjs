// Screenshots of the playground at each step of its tour, for people (the browser test
// tests/browser/playground.html checks the same steps). puppeteer-core drives the system's
// Chromium; it downloads no browser.
//
//   node tests/puppeteer/playground.mjs <playground URL> <chromium> <output folder>
//
// Prints each file it wrote; exits non-zero, naming the step, when one does not happen.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import puppeteer from 'puppeteer-core';

const [url, chromium, out] = process.argv.slice(2);
if (!url || !chromium || !out) {
  console.error('usage: node tests/puppeteer/playground.mjs <playground URL> <chromium> <output folder>');
  process.exit(2);
}
mkdirSync(out, { recursive: true });
const profile = mkdtempSync(join(tmpdir(), 'atelier-chromium-shots-'));
const browser = await puppeteer.launch({
  executablePath: chromium,
  headless: true,
  userDataDir: profile,
  args: ['--no-sandbox', '--disable-gpu', '--hide-scrollbars'],
});

/** Waits for `fn` (run in the page) to be truthy; names `what` when it is not. */
async function until(page, what, fn, timeout = 15_000) {
  try {
    await page.waitForFunction(fn, { timeout, polling: 50 });
  } catch {
    const status = await page.$eval('#status', (el) => el.textContent).catch(() => '(no page)');
    throw new Error(`${what}: not within ${timeout} ms; the status says: ${status}`);
  }
}

const steps = [
  ['start', async () => {}],
  ['run', async (page) => {
    await page.$eval('#images', (el) => { el.value = '600'; });
    await page.click('#run');
    await until(page, 'the run ends', () => /run 1: \d+ of 600/.test(document.getElementById('status').textContent), 30_000);
    await new Promise((r) => setTimeout(r, 600)); // one more snapshot for the panels
  }],
  ['crash', async (page) => {
    await page.click('#crash');
    await until(page, 'the crash is listed', () => document.querySelector('#crashes li') !== null);
  }],
  ['hang', async (page) => {
    await page.click('#hang');
    await page.click('#apply');
    await page.click('#stuck');
    await until(page, "a 'hang' is listed", () => document.querySelector('#crashes li[data-reason=hang]') !== null, 10_000);
  }],
  ['cancel-mid-loop', async (page) => {
    await page.click('#spin');
    await until(page, 'the loop is cancelled', () => /handler stopped within/.test(document.getElementById('status').textContent), 10_000);
  }],
  ['side-by-side', async (page) => {
    await page.$eval('#images', (el) => { el.value = '300'; });
    await page.click('#raw');
    await until(page, 'the comparison', () => /raw postMessage \d+ images\/s/.test(document.getElementById('compare').textContent), 30_000);
    await new Promise((r) => setTimeout(r, 600));
  }],
];

let failed = false;
try {
  const page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 1500 });
  await page.goto(url);
  await until(page, 'the playground is ready', () => document.body.dataset.ready === 'true');
  await new Promise((r) => setTimeout(r, 600));
  for (const [name, step] of steps) {
    await step(page);
    const file = join(out, `${steps.findIndex((s) => s[0] === name) + 1}-${name}.png`);
    await page.screenshot({ path: file });
    console.log(file);
  }
} catch (error) {
  console.error(`playground screenshots: ${error.message}`);
  failed = true;
} finally {
  await browser.close();
  rmSync(profile, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
