// The monthly report from end to end: collect the month, compute findings, word them, draw the charts, write HTML, Markdown, CSV, SVG and (with Chromium) PDF.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { renderCharts } from './charts.js';
import { tableCsv } from './csv.js';
import { collectReportData } from './data.js';
import { computeFindings, type Findings } from './findings.js';
import { renderHtml } from './html.js';
import { renderMarkdown } from './markdown.js';
import { findChromium, printPdf } from './pdf.js';
import type { Lang, ReportPeriod } from './period.js';
import { en } from './strings/en.js';
import { ru } from './strings/ru.js';
import type { Strings } from './strings/strings.js';
import { reportText } from './tables.js';

export interface ReportOptions {
  dataDir: string;
  period: ReportPeriod;
  lang: Lang;
  out: string;
  baseUrl: string;
  /** The report's time (the injected clock). */
  now: number;
  env: Record<string, string | undefined>;
  /** Told when no PDF is printed. */
  warn: (message: string) => void;
}

export interface ReportResult {
  files: string[];
  findings: Findings;
  pdf: boolean;
}

const STRINGS: Record<Lang, Strings> = { en, ru };

export async function writeReport(o: ReportOptions): Promise<ReportResult> {
  const s = STRINGS[o.lang];
  const findings = computeFindings(collectReportData(o.dataDir, o.period, o.now));
  const text = reportText(findings, s, o.baseUrl);
  const charts = await renderCharts(findings, s);
  const html = renderHtml(text, charts, s, o.lang);
  await mkdir(path.join(o.out, 'charts'), { recursive: true });
  const files: string[] = [];
  const put = async (name: string, content: string): Promise<void> => {
    await writeFile(path.join(o.out, name), content);
    files.push(name);
  };
  await put('report.html', html);
  await put('report.md', renderMarkdown(text, charts, s));
  for (const t of text.tables) await put(`${t.id}.csv`, tableCsv(t));
  for (const c of charts) if (c.svg !== null) await put(`charts/${c.id}.svg`, c.svg);
  const chromium = findChromium(o.env);
  let pdf = false;
  if (chromium === null) o.warn('no Chromium found (set ASHYQ_CHROMIUM or put chromium on the PATH): report.pdf not written');
  else {
    await printPdf(chromium, html, path.join(o.out, 'report.pdf'));
    files.push('report.pdf');
    pdf = true;
  }
  return { files, findings, pdf };
}
