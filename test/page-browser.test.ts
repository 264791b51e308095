// The collector's own page in headless Chromium: the overview with the seeded open event and networks, a measurement's evidence and reason, the reports link, and no console error.
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Measurement } from '../contract/measurement.js';
import type { BatchAnswer } from '../contract/wire.js';
import { findChromium } from '../collector/report/pdf.js';
import { makeMeasurement, startCollector, T0, tempDir, type RunningCollector } from './fixtures/collector/helpers.js';

const HOUR = 3_600_000;
const OUTPUT = path.join(path.resolve(import.meta.dirname, '..'), 'test-output', 'page');
const CHROMIUM = findChromium(process.env);

let dir: string;
let c: RunningCollector;
let browser: Browser | null = null;
let blockedId: string;
let blockedAt: string | undefined;

/** A page that fails the test on a console error or an uncaught exception, and records every request. */
async function open(url: string, viewport = { width: 1280, height: 900 }): Promise<{ page: Page; errors: string[]; requests: string[] }> {
  const page = await browser!.newPage({ viewport });
  const errors: string[] = [];
  const requests: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('request', (r) => requests.push(r.url()));
  await page.goto(url);
  await page.waitForFunction(() => document.body.dataset['ready'] !== undefined, undefined, { timeout: 15_000 });
  return { page, errors, requests };
}

beforeAll(async () => {
  dir = await tempDir('ashyq-page-');
  const reports = path.join(dir, 'reports');
  await mkdir(path.join(reports, '2024-04'), { recursive: true });
  await writeFile(path.join(reports, '2024-04', 'report.html'), '<!doctype html><html lang="en"><head><title>Internet freedom report: KZ, 2024-04</title></head><body><h1>Internet freedom report: KZ, 2024-04</h1></body></html>');
  c = await startCollector({ dir: path.join(dir, 'data'), reportsDir: reports, events: { interval_minutes: 30, min_probe_history_hours: 2 } });
  // Three probes on AS9198: YouTube's TLS reset for the last 6 hours, still going on now (T0).
  const probes = [await c.register(), await c.register(), await c.register()];
  for (const [i, p] of probes.entries()) {
    const list: Measurement[] = [];
    for (let t = T0 - 14 * HOUR + i * 60_000; t < T0; t += 30 * 60_000) {
      list.push(makeMeasurement({ probeId: p.id, at: t, verdict: t >= T0 - 6 * HOUR ? 'tls.reset' : 'ok' }));
      list.push(makeMeasurement({ probeId: p.id, at: t + 1000, target: { id: 'canary-kz', category: 'canary' } }));
    }
    const answer = (await c.post(p, list)).json() as BatchAnswer;
    expect(answer.results.every((r) => r.status === 'accepted')).toBe(true);
    // The newest blocked measurement (the page lists the latest ones).
    const last = list.filter((m) => m.verdict.verdict === 'tls.reset').at(-1)!;
    if (blockedAt === undefined || last.started_at > blockedAt) [blockedId, blockedAt] = [last.id, last.started_at];
  }
  c.collector.events.settle();
  if (CHROMIUM !== null) browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await c?.dispose();
  await rm(dir, { recursive: true, force: true });
});

describe('the collector\'s page', () => {
  it('has an open event to show', () => {
    const open = c.collector.eventStore.events({}).filter((e) => e.end === null);
    // One per series: the network's, and the country's it is part of.
    expect(open.map((e) => [e.series, e.targets, e.asns, e.method]).sort()).toEqual([
      ['youtube/AS9198/tls', ['youtube'], [9198], 'tls'],
      ['youtube/KZ/tls', ['youtube'], [9198], 'tls'],
    ]);
  });

  it('shows the open event, the networks and the reports, with no console error and no request outside the collector', async ({ skip }) => {
    if (browser === null) return skip('no Chromium (set ASHYQ_CHROMIUM or put chromium on the PATH)');
    const { page, errors, requests } = await open(`${c.url}/`);
    expect(await page.evaluate(() => document.body.dataset['ready'])).toBe('true');
    const events = await page.locator('#events').innerText();
    expect(events).toContain('youtube');
    expect(events).toContain('AS9198');
    expect(events).toContain('tls');
    // The country's event is named as such beside the network's.
    expect(events).toContain('KZ (country: AS9198)');
    expect(await page.locator('#networks').innerText()).toContain('AS9198');
    // The latest blocked measurements link to their pages.
    expect(await page.locator(`#recent a[href="/measurement/${blockedId}"]`).count()).toBe(1);
    const report = page.locator('#reports a', { hasText: '2024-04' });
    expect(await report.count()).toBe(1);
    await mkdir(OUTPUT, { recursive: true });
    await page.screenshot({ path: path.join(OUTPUT, 'overview.png'), fullPage: true });
    await report.click();
    await page.waitForLoadState('load');
    expect(await page.title()).toBe('Internet freedom report: KZ, 2024-04');
    await page.close();
    expect(errors).toEqual([]);
    const origin = new URL(c.url).origin;
    expect(requests.filter((u) => !u.startsWith(origin) && !u.startsWith('data:'))).toEqual([]);
  });

  it('shows a measurement: its verdicts, the reason in plain words and the evidence per layer', async ({ skip }) => {
    if (browser === null) return skip('no Chromium');
    const { page, errors } = await open(`${c.url}/measurement/${blockedId}`);
    expect(await page.evaluate(() => document.body.dataset['ready'])).toBe('true');
    const reason = await page.locator('#reason').innerText();
    expect(reason).toContain('tls.reset');
    expect(reason).toContain('Why:');
    const text = await page.locator('#measurement').innerText();
    for (const h of ['DNS', 'TCP', 'TLS', 'HTTP']) expect(text).toContain(h);
    expect(text).toContain('AS9198');
    expect(text).toContain('youtube');
    await page.screenshot({ path: path.join(OUTPUT, 'measurement.png'), fullPage: true });
    await page.close();
    expect(errors).toEqual([]);
  });

  it('fits a phone\'s width (wide tables scroll in their own box) and is usable from the keyboard', async ({ skip }) => {
    if (browser === null) return skip('no Chromium');
    const { page, errors } = await open(`${c.url}/`, { width: 375, height: 812 });
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(375);
    // The first Tab reaches the skip link, which moves the focus to the content.
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Skip to content');
    await page.keyboard.press('Enter');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('main');
    // A measurement link is reached by Tab and opened by Enter.
    await page.locator(`#recent a[href="/measurement/${blockedId}"]`).focus();
    await page.keyboard.press('Enter');
    await page.waitForURL(`**/measurement/${blockedId}`);
    await page.waitForFunction(() => document.body.dataset['ready'] === 'true');
    expect(await page.locator('#reason').innerText()).toContain('tls.reset');
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(375);
    await page.screenshot({ path: path.join(OUTPUT, 'phone.png'), fullPage: true });
    await page.close();
    expect(errors).toEqual([]);
  });

  it('says so for a measurement it does not have', async ({ skip }) => {
    if (browser === null) return skip('no Chromium');
    const { page } = await open(`${c.url}/measurement/01HZZZZZZZZZZZZZZZZZZZZZZZ`);
    expect(await page.locator('#measurement').innerText()).toContain('No measurement with this id.');
    await page.close();
  });
});
