// The collector's own page (GET /, /measurement/:id), its static assets and uPlot from node_modules, and the monthly reports served read-only.
import { existsSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { API_PREFIX } from '../../../contract/wire.js';
import { errorBody } from '../server.js';

const MONTH = /^\d{4}-(0[1-9]|1[0-2])$/;
const FILE = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;
const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.csv': 'text/csv; charset=utf-8',
};
/** The page talks only to its own origin. */
const CSP = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

/** The folder of the page's static files: collector/page of the package, whether running from the sources or from dist. */
export function pageDir(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = path.join(dir, 'collector', 'page', 'index.html');
    if (existsSync(path.join(dir, 'package.json')) && existsSync(candidate)) return path.dirname(candidate);
    const up = path.dirname(dir);
    if (up === dir) throw new Error('collector/page not found above the collector code');
    dir = up;
  }
}

function typeOf(file: string): string {
  return TYPES[path.extname(file)] ?? 'application/octet-stream';
}

async function sendFile(reply: FastifyReply, file: string, cache: string): Promise<FastifyReply> {
  const body = await readFile(file);
  return reply.header('content-type', typeOf(file)).header('cache-control', cache).header('x-content-type-options', 'nosniff').send(body);
}

/** The months that have a report.html in `dir`, newest first. */
export async function reportMonths(dir: string | null): Promise<string[]> {
  if (dir === null) return [];
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const months: string[] = [];
  for (const name of names) {
    if (!MONTH.test(name)) continue;
    const s = await stat(path.join(dir, name, 'report.html')).catch(() => null);
    if (s?.isFile() === true) months.push(name);
  }
  return months.sort().reverse();
}

export function pageRoutes(app: FastifyInstance, deps: { reportsDir: string | null }): void {
  const dir = pageDir();
  const uplot = path.dirname(createRequire(import.meta.url).resolve('uplot/package.json'));
  const assets = new Map<string, string>([
    ['app.js', path.join(dir, 'app.js')],
    ['style.css', path.join(dir, 'style.css')],
    ['uplot.js', path.join(uplot, 'dist', 'uPlot.iife.min.js')],
    ['uplot.css', path.join(uplot, 'dist', 'uPlot.min.css')],
  ]);
  const index = path.join(dir, 'index.html');
  const page = (_request: unknown, reply: FastifyReply) => sendFile(reply.header('content-security-policy', CSP), index, 'no-cache');

  app.get('/', page);
  app.get('/measurement/:id', page);
  // Browsers ask for it on every page without an icon of its own (the monthly reports): no icon, and no error.
  app.get('/favicon.ico', async (_request, reply) => reply.code(204).header('cache-control', 'public, max-age=86400').send());
  app.get('/assets/:name', async (request, reply) => {
    const file = assets.get((request.params as { name: string }).name);
    if (file === undefined) return reply.code(404).send(errorBody('not_found', 'no such asset'));
    return sendFile(reply, file, 'public, max-age=300');
  });

  app.get(`${API_PREFIX}/reports`, async (_request, reply) => {
    const months = await reportMonths(deps.reportsDir);
    return reply.send({ reports: months.map((month) => ({ month, url: `/reports/${month}/` })) });
  });
  const report = async (month: string, name: string, reply: FastifyReply): Promise<FastifyReply> => {
    if (deps.reportsDir === null || !MONTH.test(month) || !FILE.test(name)) return reply.code(404).send(errorBody('not_found', 'no such report'));
    const file = path.join(deps.reportsDir, month, name);
    const s = await stat(file).catch(() => null);
    if (s?.isFile() !== true) return reply.code(404).send(errorBody('not_found', 'no such report'));
    return sendFile(reply, file, 'no-cache');
  };
  app.get('/reports/:month/', async (request, reply) => report((request.params as { month: string }).month, 'report.html', reply));
  app.get('/reports/:month/:file', async (request, reply) => {
    const { month, file } = request.params as { month: string; file: string };
    return report(month, file, reply);
  });
}
