// `ashyq-collector report --month YYYY-MM --out DIR`: the monthly freedom report (HTML, Markdown, CSV, charts, PDF with Chromium) from the data directory (a running server may hold it).
import type { Clock } from '../../common/clock.js';
import type { CollectorConfig } from '../config.js';
import { parseBaseUrl, parseCountry, parseLang, parseMonth } from '../report/period.js';
import { writeReport } from '../report/report.js';
import { InputError, type Output } from './output.js';

export interface ReportArgs {
  month?: string;
  country?: string;
  lang?: string;
  out?: string;
  'base-url'?: string;
}

export async function runReport(config: CollectorConfig, args: ReportArgs, clock: Clock, env: Record<string, string | undefined>, stdout: Output, stderr: Output): Promise<number> {
  const month = parseMonth(args.month);
  const country = parseCountry(args.country);
  const lang = parseLang(args.lang);
  const baseUrl = parseBaseUrl(args['base-url']);
  if (args.out === undefined || args.out === '') throw new InputError('report: --out DIR is required (where report.html, report.md, the CSV files and report.pdf are written)');
  const started = clock.monotonic();
  const result = await writeReport({
    dataDir: config.data_dir,
    period: { ...month, country },
    lang,
    out: args.out,
    baseUrl,
    now: clock.now(),
    env,
    warn: (m) => stderr.write(`ashyq-collector: report: ${m}\n`),
  });
  const f = result.findings;
  stdout.write(
    `ashyq-collector: report ${month.month} ${country} (${lang}): ${f.coverage.measurements} measurements, ${f.events.length} events, ${f.incidents.length} incidents; ` +
      `${result.files.length} files in ${((clock.monotonic() - started) / 1000).toFixed(1)} s -> ${args.out}\n`,
  );
  return 0;
}
