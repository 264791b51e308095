// Phase 3b of the report: one self-contained HTML page (CSS and SVG inline, no script, no request when opened).
import type { Chart } from './charts.js';
import type { Cell, ReportText, Table } from './tables.js';
import type { Strings } from './strings/strings.js';

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const CSS = `
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1100px; color: #1a1a1a; line-height: 1.45; padding: 0 1rem; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; } h2 { margin-top: 2rem; border-bottom: 1px solid #ccc; }
.meta { color: #555; font-size: .9rem; }
table { border-collapse: collapse; font-size: .82rem; margin: .6rem 0; }
th, td { border: 1px solid #ddd; padding: .25rem .45rem; text-align: left; vertical-align: top; }
th { background: #f3f3f3; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 1rem 0; } figcaption { font-weight: 600; margin-bottom: .3rem; }
ul.findings li { margin-bottom: .3rem; }
a { color: #0645ad; }
@media print { body { margin: 0; max-width: none; } h2 { break-after: avoid; } figure, tr { break-inside: avoid; } }
`;

function cell(c: Cell): string {
  if (typeof c === 'string') return /^-?[\d.]+%?$/.test(c) ? `<td class="n">${escapeHtml(c)}</td>` : `<td>${escapeHtml(c)}</td>`;
  return `<td>${c.map((l) => `<a href="${escapeHtml(l.href)}">${escapeHtml(l.text)}</a>`).join('<br>')}</td>`;
}

export function tableHtml(t: Table): string {
  if (t.rows.length === 0 && t.empty !== undefined) return `<p>${escapeHtml(t.empty)}</p>`;
  const head = `<tr>${t.headers.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr>`;
  const body = t.rows.map((r) => `<tr>${r.map(cell).join('')}</tr>`).join('\n');
  return `<table id="table-${t.id}"><thead>${head}</thead><tbody>\n${body}\n</tbody></table>`;
}

function chartHtml(c: Chart): string {
  const inner = c.svg ?? `<p>${escapeHtml(c.note ?? '')}</p>`;
  return `<figure id="chart-${c.id}"><figcaption>${escapeHtml(c.title)}</figcaption>${inner}</figure>`;
}

export function renderHtml(text: ReportText, charts: readonly Chart[], s: Strings, lang: string): string {
  const table = (id: string): string => {
    const t = text.tables.find((x) => x.id === id);
    return t === undefined ? '' : `<section id="${id}"><h2>${escapeHtml(t.title)}</h2>${tableHtml(t)}</section>`;
  };
  const paragraphs = (list: readonly string[]): string => list.map((p) => `<p>${escapeHtml(p)}</p>`).join('\n');
  return `<!doctype html>
<html lang="${lang}">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(text.title)}</title>
<style>${CSS}</style>
</head>
<body>
<h1>${escapeHtml(text.title)}</h1>
<p class="meta">${escapeHtml(text.generated)} ${escapeHtml(text.periodNote)}</p>
<section id="findings"><h2>${escapeHtml(s.sections.findings)}</h2>
<ul class="findings">${text.findings.map((f) => `<li>${escapeHtml(f)}</li>`).join('\n')}</ul></section>
${table('coverage')}
${table('gaps')}
${table('services')}
${table('availability')}
<section id="charts"><h2>${escapeHtml(s.sections.charts)}</h2>
${charts.map(chartHtml).join('\n')}
</section>
${table('events')}
${table('incidents')}
${table('chronic')}
${table('interception')}
<section id="methodology"><h2>${escapeHtml(s.sections.methodology)}</h2>
${paragraphs(s.methodology)}
</section>
${table('verdicts')}
<section id="limitations"><h2>${escapeHtml(s.sections.limitations)}</h2>
${paragraphs(s.limitations)}
</section>
</body>
</html>
`;
}
