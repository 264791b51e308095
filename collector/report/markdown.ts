// Phase 3c of the report: the same content as Markdown (tables as pipe tables, charts by their title and the file they are drawn in).
import type { Chart } from './charts.js';
import type { Cell, ReportText, Table } from './tables.js';
import type { Strings } from './strings/strings.js';

const escapeCell = (text: string): string => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

function cell(c: Cell): string {
  return typeof c === 'string' ? escapeCell(c) : c.map((l) => `[${escapeCell(l.text)}](${l.href})`).join(' ');
}

export function tableMarkdown(t: Table): string {
  if (t.rows.length === 0 && t.empty !== undefined) return t.empty;
  return [`| ${t.headers.map(escapeCell).join(' | ')} |`, `| ${t.headers.map(() => '---').join(' | ')} |`, ...t.rows.map((r) => `| ${r.map(cell).join(' | ')} |`)].join('\n');
}

export function renderMarkdown(text: ReportText, charts: readonly Chart[], s: Strings): string {
  const out: string[] = [`# ${text.title}`, '', `${text.generated} ${text.periodNote}`, '', `## ${s.sections.findings}`, '', ...text.findings.map((f) => `- ${f}`), ''];
  const table = (id: string): void => {
    const t = text.tables.find((x) => x.id === id);
    if (t !== undefined) out.push(`## ${t.title}`, '', tableMarkdown(t), '');
  };
  for (const id of ['coverage', 'gaps', 'services', 'availability']) table(id);
  out.push(`## ${s.sections.charts}`, '');
  for (const c of charts) out.push(c.svg === null ? `- ${c.title}: ${c.note ?? ''}` : `![${c.title}](charts/${c.id}.svg)`, '');
  out.push('');
  for (const id of ['events', 'incidents', 'chronic', 'interception']) table(id);
  out.push(`## ${s.sections.methodology}`, '', ...s.methodology.flatMap((p) => [p, '']));
  table('verdicts');
  out.push(`## ${s.sections.limitations}`, '', ...s.limitations.flatMap((p) => [p, '']));
  return `${out.join('\n').trimEnd()}\n`;
}
