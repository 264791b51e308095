// Phase 5 of the report: print the HTML page to PDF with Chromium (playwright-core), found from ASHYQ_CHROMIUM or on the PATH.
import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { ReportError } from '../errors.js';

const NAMES = ['chromium', 'chromium-browser'];

/** The Chromium executable: $ASHYQ_CHROMIUM, else the first of chromium, chromium-browser on $PATH; null when none. */
export function findChromium(env: Record<string, string | undefined>): string | null {
  const candidates = env['ASHYQ_CHROMIUM'] ? [env['ASHYQ_CHROMIUM']] : (env['PATH'] ?? '').split(path.delimiter).filter(Boolean).flatMap((dir) => NAMES.map((n) => path.join(dir, n)));
  for (const file of candidates) {
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return null;
}

/** Print `html` to `file` (A4); any request the page would make is refused. */
export async function printPdf(executablePath: string, html: string, file: string): Promise<void> {
  let browser;
  try {
    browser = await chromium.launch({ executablePath, args: ['--no-sandbox'] });
  } catch (err) {
    throw new ReportError('report.pdf', `Chromium (${executablePath}) did not start: ${(err as Error).message.split('\n')[0]}`);
  }
  try {
    const page = await browser.newPage();
    await page.route('**/*', (route) => route.abort());
    await page.setContent(html, { waitUntil: 'load' });
    await page.pdf({ path: file, format: 'A4', printBackground: true, margin: { top: '12mm', bottom: '12mm', left: '10mm', right: '10mm' } });
  } finally {
    await browser.close();
  }
}
