// The monthly report end to end: a simulated fleet imported through the command line, the report written by `report`, then read back in headless Chromium, as Markdown and as CSV, in English and Russian.
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../collector/cli/main.js';
import { csvFields } from '../collector/ingest/asn.js';
import type { BlockingEvent } from '../collector/events/types.js';
import { findChromium } from '../collector/report/pdf.js';
import { EventStore } from '../collector/storage/event-store.js';
import { ManualClock } from './fixtures/collector/helpers.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const OUTPUT = path.join(ROOT, 'test-output', 'report');
const MONTH_FROM = Date.UTC(2024, 4, 1);
const REPORT_AT = Date.UTC(2024, 5, 2, 9, 0);
const CHROMIUM = findChromium(process.env);

let dir: string;
let config: string;
let events: BlockingEvent[];
let browser: Browser | null = null;

function capture(): { out: string[]; err: string[]; io: { stdout: { write(t: string): boolean }; stderr: { write(t: string): boolean } } } {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { stdout: { write: (t) => out.push(t) > 0 }, stderr: { write: (t) => err.push(t) > 0 } } };
}

async function run(args: string[], env: Record<string, string | undefined> = process.env): Promise<{ code: number; out: string; err: string }> {
  const c = capture();
  const code = await main(args, { ...c.io, env, clock: new ManualClock(REPORT_AT) });
  return { code, out: c.out.join(''), err: c.err.join('') };
}

/** Hours (one decimal) with the target blocked on some network: minutes covered by its events, counted one by one. */
function expectedHours(target: string): string {
  const minutes = new Set<number>();
  for (const e of events.filter((x) => (x.kind === 'blocking' || x.kind === 'partial') && x.targets.includes(target))) {
    for (let t = e.start; t < (e.end ?? REPORT_AT); t += 60_000) minutes.add(Math.floor(t / 60_000));
  }
  return (Math.round((minutes.size / 60) * 10) / 10).toFixed(1);
}

function localHhmm(ms: number): string {
  return new Intl.DateTimeFormat('en-GB', { timeZone: 'Asia/Almaty', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(new Date(ms));
}

function csvRow(csv: string, first: string): string[] {
  const line = csv.split('\r\n').find((l) => l.startsWith(`${first},`));
  if (line === undefined) throw new Error(`no row ${first}`);
  return csvFields(line);
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'ashyq-report-'));
  config = path.join(dir, 'collector.yaml');
  await writeFile(config, `data_dir: ${path.join(dir, 'data')}\ntargets_file: ${path.join(ROOT, 'targets.yaml')}\n`);
  const seg = path.join(dir, 'seg');
  expect((await run(['simulate', '--out', seg, '--days', '12', '--probes', '10'])).code).toBe(0);
  const files = (await readdir(seg)).filter((f) => f.includes('.jsonl')).map((f) => path.join(seg, f));
  const imported = await run(['import', '--config', config, ...files]);
  expect(imported.code, imported.err).toBe(0);
  const store = EventStore.open(path.join(dir, 'data', 'events.sqlite'));
  events = store.events({});
  store.close();
  for (const lang of ['en', 'ru']) {
    const r = await run(['report', '--config', config, '--month', '2024-05', '--lang', lang, '--out', path.join(dir, lang), '--base-url', 'https://collector.example.org/']);
    expect(r.code, r.err).toBe(0);
  }
  if (CHROMIUM !== null) browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('ashyq-collector report', () => {
  it('has the seeded blocking to report on', () => {
    expect(events.some((e) => e.targets.includes('instagram') && e.method === 'tls')).toBe(true);
    expect(events.some((e) => e.targets.includes('instagram') && e.method === 'interception')).toBe(true);
  });

  it('renders in Chromium with charts and tables carrying the numbers, and makes no request', async ({ skip }) => {
    if (browser === null) return skip('no Chromium (set ASHYQ_CHROMIUM or put chromium on the PATH)');
    const html = await readFile(path.join(dir, 'en', 'report.html'), 'utf8');
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const requests: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    await page.route('**/*', async (route) => {
      requests.push(route.request().url());
      await route.abort();
    });
    await page.setContent(html, { waitUntil: 'load' });

    // Charts: SVG drawn by vega, the heatmap's cells labelled with their data.
    expect(await page.locator('#charts svg').count()).toBeGreaterThanOrEqual(5);
    const db = new Database(path.join(dir, 'data', 'store.sqlite'), { readonly: true });
    const day = Date.UTC(2024, 4, 6);
    const agg = db
      .prepare(`SELECT SUM(blocked) AS b, SUM(count) AS n FROM aggregates WHERE target = 'instagram' AND bucket >= ? AND bucket < ? AND cc = 'KZ' AND verdict NOT IN ('offline', 'inconclusive', 'http.throttled')`)
      .get(day, day + 86_400_000) as { b: number; n: number };
    const asns = (db.prepare("SELECT COUNT(DISTINCT asn) AS n FROM aggregates WHERE cc = 'KZ'").get() as { n: number }).n;
    db.close();
    const share = Math.round((agg.b / agg.n) * 1000) / 1000;
    expect(share).toBeGreaterThan(0.1);
    // Vega labels each mark with its fields' titles and formatted values (the share as a whole percentage).
    const cell = page.locator('#chart-heatmap [aria-label*="Service: instagram;"][aria-label*="2024-05-06"]');
    expect(await cell.count()).toBe(1);
    expect(await cell.getAttribute('aria-label')).toContain(`Blocked share: ${(share * 100).toFixed(0)}%`);
    expect(await page.locator('#chart-interception svg [aria-label*="Network: AS"]').count()).toBeGreaterThan(0);
    expect(await page.locator('#chart-handshake svg').count()).toBe(1);

    // Tables: hours blocked, networks, event times in UTC and local time.
    const row = page.locator('#table-services tr', { hasText: /^instagram/ }).first();
    const cells = await row.locator('td').allInnerTexts();
    expect(cells[0]).toBe('instagram');
    expect(cells[4]).toBe(expectedHours('instagram'));
    expect(Number(cells[3])).toBe(new Set(events.filter((e) => e.kind === 'blocking' && e.targets.includes('instagram')).flatMap((e) => e.asns)).size);
    const coverage = await page.locator('#table-coverage td').allInnerTexts();
    expect(coverage[coverage.indexOf('Networks (ASNs)') + 1]).toBe(String(asns));
    const vk = events.find((e) => e.targets.includes('vk'))!;
    const vkRow = (await page.locator('#table-events tr', { hasText: 'vk' }).first().locator('td').allInnerTexts()).join(' | ');
    expect(vkRow).toContain(new Date(vk.start).toISOString().slice(0, 16).replace('T', ' '));
    expect(vkRow).toContain(`${localHhmm(vk.start)} UTC+5`);
    const findings = await page.locator('#findings li').allInnerTexts();
    expect(findings.find((f) => f.startsWith('instagram was blocked'))).toContain(`for ${expectedHours('instagram')} hours in total`);
    const link = page.locator('#table-events a').first();
    expect(await link.getAttribute('href')).toMatch(/^https:\/\/collector\.example\.org\/api\/v1\/measurements\/[0-9A-Z]{26}$/);

    await mkdir(OUTPUT, { recursive: true });
    await page.screenshot({ path: path.join(OUTPUT, 'report.png'), fullPage: true });
    await page.close();
    expect(requests).toEqual([]);
    // Nothing that could fetch: no scripts, links, sources, imports or url()s other than references inside the page (a gradient's url(#id)).
    expect(html).not.toMatch(/<script|<link|\bsrc=|@import|url\((?!#)/i);
  });

  it('prints a PDF', async ({ skip }) => {
    if (CHROMIUM === null) return skip('no Chromium');
    const pdf = await readFile(path.join(dir, 'en', 'report.pdf'));
    expect(pdf.subarray(0, 4).toString('latin1')).toBe('%PDF');
    expect(pdf.length).toBeGreaterThan(10_000);
  });

  it('writes the same numbers to Markdown and CSV', async () => {
    const md = await readFile(path.join(dir, 'en', 'report.md'), 'utf8');
    const csv = await readFile(path.join(dir, 'en', 'services.csv'), 'utf8');
    const row = csvRow(csv, 'instagram');
    expect(row[4]).toBe(expectedHours('instagram'));
    expect(md).toContain(`| ${row.join(' | ')} |`);
    const eventsCsv = await readFile(path.join(dir, 'en', 'events.csv'), 'utf8');
    expect(eventsCsv.split('\r\n').filter((l) => l !== '').length - 1).toBe(events.filter((e) => e.start < Date.UTC(2024, 5, 1) && (e.end ?? 0) >= MONTH_FROM).length);
    for (const svg of ['daily', 'heatmap', 'interception', 'throttled']) expect(md).toContain(`(charts/${svg}.svg)`);
    expect((await readFile(path.join(dir, 'en', 'charts', 'heatmap.svg'), 'utf8')).startsWith('<svg')).toBe(true);
  });

  it('gives Russian text with the same numbers for --lang ru', async () => {
    const html = await readFile(path.join(dir, 'ru', 'report.html'), 'utf8');
    expect(html).toContain('<html lang="ru">');
    expect(html).toContain('Главное');
    expect(html).toContain(`instagram был заблокирован`);
    expect(html).toContain(`всего ${expectedHours('instagram')} ч`);
    const en = await readFile(path.join(dir, 'en', 'services.csv'), 'utf8');
    const ru = await readFile(path.join(dir, 'ru', 'services.csv'), 'utf8');
    const numbers = (csv: string) => csv.split('\r\n').slice(1).map((l) => csvFields(l).filter((c) => /^[\d.%]+$/.test(c)));
    expect(numbers(ru)).toEqual(numbers(en));
    expect(ru.split('\r\n')[0]).toContain('Часов блокировки');
  });

  it('keeps volunteers’ addresses out of the report', async () => {
    for (const lang of ['en', 'ru']) {
      for (const f of (await readdir(path.join(dir, lang))).filter((x) => /\.(html|md|csv)$/.test(x))) {
        expect(await readFile(path.join(dir, lang, f), 'utf8'), f).not.toMatch(/\b\d{1,3}(\.\d{1,3}){3}\b|\b[0-9a-f]{1,4}(:[0-9a-f]{0,4}){4,7}\b/i);
      }
    }
  });

  it('refuses a bad month, country or language with a message naming the argument', async () => {
    const bad = await run(['report', '--config', config, '--month', '2019-13', '--out', path.join(dir, 'bad')]);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('--month: expected a month as YYYY-MM (e.g. 2019-05), got "2019-13"');
    expect((await run(['report', '--config', config, '--month', '2019-05', '--lang', 'de', '--out', path.join(dir, 'bad')])).err).toContain('--lang');
    expect((await run(['report', '--config', config, '--month', '2019-05', '--country', 'KAZ', '--out', path.join(dir, 'bad')])).err).toContain('--country');
    expect((await run(['report', '--config', config, '--month', '2019-05'])).err).toContain('--out');
  });

  it('writes the rest and says so when no Chromium is found', async () => {
    const out = path.join(dir, 'nopdf');
    const r = await run(['report', '--config', config, '--month', '2024-05', '--out', out], { PATH: '' });
    expect(r.code).toBe(0);
    expect(r.err).toContain('no Chromium found');
    const files = await readdir(out);
    expect(files).toContain('report.html');
    expect(files).not.toContain('report.pdf');
  });
});
