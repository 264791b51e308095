// `ashyq-probe join <invite> --config FILE`: the collector section of the probe's config written from an invite (URL, key pin, single-use secret).
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { Document, parseDocument } from 'yaml';
import { replaceFile } from '../../common/durable.js';
import { InvalidArgumentError } from '../../common/errors.js';
import { decodeInvite, type Invite } from '../../contract/invite.js';
import { parseProbeConfig, type ProbeConfig } from '../config/probe-config.js';

/** A new config file is readable by its owner and group only: it holds the enrollment secret. */
const NEW_FILE_MODE = 0o640;

/** The config an invite makes, checked, not yet written. */
export interface JoinPlan {
  file: string;
  invite: Invite;
  /** The file's new text, and the mode it keeps (0640 for a new file). */
  text: string;
  mode: number;
  /** Whether the file existed. */
  existed: boolean;
  /** The config as the daemon will read it. */
  config: ProbeConfig;
}

/**
 * The config at `file` (or a new one) with `invite`'s collector; every other setting and comment
 * of an existing file kept; `defaults` set where the file has no such key (a new file's
 * state_dir, for example). Checked as the daemon will read it; nothing is written.
 */
export async function planJoin(invite: string, file: string, defaults: Readonly<Record<string, string>> = {}): Promise<JoinPlan> {
  const decoded = decodeInvite(invite);
  let text = '';
  let mode = NEW_FILE_MODE;
  let existed = true;
  try {
    text = await readFile(file, 'utf8');
    mode = (await stat(file)).mode & 0o777;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    existed = false;
  }
  const doc = text.trim() === '' ? new Document({}) : parseDocument(text);
  if (doc.errors.length > 0) throw new InvalidArgumentError(`${file}: not valid YAML (${doc.errors[0]!.message.split('\n')[0]}); fix it or name another file`);
  for (const [key, value] of Object.entries(defaults)) if (!doc.has(key)) doc.set(key, value);
  doc.setIn(['collector', 'url'], decoded.url);
  doc.setIn(['collector', 'pin_spki_sha256'], doc.createNode(decoded.pins, { flow: true }));
  doc.setIn(['collector', 'enrollment_token'], decoded.secret);
  const next = doc.toString();
  // Checked as the daemon reads it: a config the invite would make invalid is not written.
  const config = parseProbeConfig(next, file, { baseDir: path.dirname(path.resolve(file)) });
  return { file, invite: decoded, text: next, mode, existed, config };
}

/** Write a planned config in place of the old one (atomically, keeping its mode). */
export async function writeJoin(plan: JoinPlan): Promise<void> {
  await replaceFile(path.dirname(path.resolve(plan.file)), path.basename(plan.file), Buffer.from(plan.text, 'utf8'), { mode: plan.mode });
}

/** `join`: plan, write, and say what to do next. */
export async function joinCollector(invite: string, file: string): Promise<string> {
  const plan = await planJoin(invite, file);
  await writeJoin(plan);
  const pins = plan.invite.pins;
  const pin = pins.length > 0 ? `, pinned to ${pins.join(', ')}` : '';
  return [
    `ashyq-probe: ${file} now uploads to ${plan.invite.url}${pin}; the invite's secret registers this probe once, at the daemon's first start.`,
    'Start (or restart) the daemon: sudo systemctl restart ashyq-probe, or: ashyq-probe daemon --config ' + file,
    'Then: ashyq-probe status --config ' + file,
    '',
  ].join('\n');
}
