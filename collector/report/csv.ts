// Phase 3d of the report: each table as a CSV file (RFC 4180 quoting; links as their measurement ids and URLs).
import type { Cell, Table } from './tables.js';

function field(text: string): string {
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

function cell(c: Cell): string {
  return field(typeof c === 'string' ? c : c.map((l) => l.href).join(' '));
}

export function tableCsv(t: Table): string {
  return [t.headers.map(field).join(','), ...t.rows.map((r) => r.map(cell).join(','))].join('\r\n') + '\r\n';
}
