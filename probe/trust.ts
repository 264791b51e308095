// The trust store: the roots a TLS chain is validated against (Node's, NODE_EXTRA_CA_CERTS, extra CAs).
//
// Passing `ca` to a TLS connection replaces Node's default roots, and Node 20 has no API that returns
// the certificates it loaded from NODE_EXTRA_CA_CERTS, so the file is read here, once, when the store
// is loaded. The store is a value handed to the measurements through their options, never a global.
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import tls from 'node:tls';
import { ConfigError, InvalidArgumentError } from '../common/errors.js';
import type { ProbeConfig } from './config/probe-config.js';

export interface TrustStore {
  /** Every trusted root, PEM, in load order: Node's bundled roots, the env file's, then the extra CAs. */
  readonly roots: readonly string[];
  /** The file named by NODE_EXTRA_CA_CERTS when it was set, and how many certificates it gave. */
  readonly extraCaFile: { path: string; count: number } | null;
  /** How many extra CAs the caller passed. */
  readonly extraCaCount: number;
  /** A TLS context holding these roots, built on first use and reused for every connection. */
  secureContext(): tls.SecureContext;
}

export interface TrustOptions {
  /** Further trusted roots, PEM (one certificate or a bundle per string). */
  extraCa?: string[];
  /** Where NODE_EXTRA_CA_CERTS is read from; process.env by default. */
  env?: Readonly<Record<string, string | undefined>>;
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/** The certificates of a PEM bundle, each as its own PEM block. */
export function splitPemBundle(text: string): string[] {
  return (text.match(PEM_CERT) ?? []).map((block) => `${block}\n`);
}

function parses(pem: string): boolean {
  try {
    new X509Certificate(pem);
    return true;
  } catch {
    return false;
  }
}

function readEnvFile(path: string): string[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    throw new ConfigError(path, undefined, 'NODE_EXTRA_CA_CERTS', `cannot read the CA file (${String(code ?? err)})`);
  }
  const certs = splitPemBundle(text);
  if (certs.length === 0) {
    throw new ConfigError(path, undefined, 'NODE_EXTRA_CA_CERTS', 'no PEM certificate in the CA file');
  }
  const bad = certs.findIndex((pem) => !parses(pem));
  if (bad >= 0) {
    throw new ConfigError(path, undefined, 'NODE_EXTRA_CA_CERTS', `certificate #${bad + 1} does not parse`);
  }
  return certs;
}

export function loadTrust(options: TrustOptions = {}): TrustStore {
  const env = options.env ?? process.env;
  const envPath = env['NODE_EXTRA_CA_CERTS'];
  const fromEnv = envPath !== undefined && envPath !== '' ? readEnvFile(envPath) : [];

  const extra: string[] = [];
  for (const [i, bundle] of (options.extraCa ?? []).entries()) {
    const certs = splitPemBundle(bundle);
    if (certs.length === 0 || !certs.every(parses)) {
      throw new InvalidArgumentError(`extraCa[${i}] is not a PEM certificate`);
    }
    extra.push(...certs);
  }

  const roots = Object.freeze([...tls.rootCertificates, ...fromEnv, ...extra]);
  let context: tls.SecureContext | undefined;
  return {
    roots,
    extraCaFile: envPath !== undefined && envPath !== '' ? { path: envPath, count: fromEnv.length } : null,
    extraCaCount: extra.length,
    secureContext() {
      context ??= tls.createSecureContext({ ca: [...roots] });
      return context;
    },
  };
}

/** The trust store of a config: Node's roots, NODE_EXTRA_CA_CERTS and the config's extra CA files. */
export async function trustOf(config: ProbeConfig): Promise<TrustStore> {
  const extraCa = await Promise.all(config.measure.extra_ca_files.map((f) => readFile(f, 'utf8')));
  return loadTrust({ extraCa });
}
