// `ashyq-probe join <invite> --config FILE`: the collector section of the probe's config written from an invite (URL, key pin, single-use secret).
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { Document, parseDocument } from 'yaml';
import { replaceFile } from '../../common/durable.js';
import { InvalidArgumentError } from '../../common/errors.js';
import { decodeInvite } from '../../contract/invite.js';
import { parseProbeConfig } from '../config/probe-config.js';

/** A new config file is readable by its owner and group only: it holds the enrollment secret. */
const NEW_FILE_MODE = 0o640;

/**
 * Write `invite`'s collector into the config at `file` (created when absent; every other setting
 * and comment of an existing file kept), checked as the daemon will read it before it replaces the
 * file. Returns what to tell the volunteer.
 */
export async function joinCollector(invite: string, file: string): Promise<string> {
  const decoded = decodeInvite(invite);
  let text = '';
  let mode = NEW_FILE_MODE;
  try {
    text = await readFile(file, 'utf8');
    mode = (await stat(file)).mode & 0o777;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const doc = text.trim() === '' ? new Document({}) : parseDocument(text);
  if (doc.errors.length > 0) throw new InvalidArgumentError(`${file}: not valid YAML (${doc.errors[0]!.message.split('\n')[0]}); fix it or name another file`);
  doc.setIn(['collector', 'url'], decoded.url);
  doc.setIn(['collector', 'pin_spki_sha256'], doc.createNode(decoded.pins, { flow: true }));
  doc.setIn(['collector', 'enrollment_token'], decoded.secret);
  const next = doc.toString();
  // Checked as the daemon reads it: a config the invite would make invalid is not written.
  parseProbeConfig(next, file, { baseDir: path.dirname(path.resolve(file)) });
  await replaceFile(path.dirname(path.resolve(file)), path.basename(file), Buffer.from(next, 'utf8'), { mode });
  const pin = decoded.pins.length > 0 ? `, pinned to ${decoded.pins.join(', ')}` : '';
  return [
    `ashyq-probe: ${file} now uploads to ${decoded.url}${pin}; the invite's secret registers this probe once, at the daemon's first start.`,
    'Start (or restart) the daemon: sudo systemctl restart ashyq-probe, or: ashyq-probe daemon --config ' + file,
    'Then: ashyq-probe status --config ' + file,
    '',
  ].join('\n');
}
