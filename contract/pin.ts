// The key pin both programs compute: base64 SHA-256 of a certificate's SubjectPublicKeyInfo (what invites carry and the probe checks).
import { createHash, X509Certificate } from 'node:crypto';

/** The pin of a certificate (PEM, DER or parsed): base64 SHA-256 of its SubjectPublicKeyInfo. */
export function spkiSha256(cert: string | Buffer | X509Certificate): string {
  const x = cert instanceof X509Certificate ? cert : new X509Certificate(cert);
  return createHash('sha256').update(x.publicKey.export({ type: 'spki', format: 'der' })).digest('base64');
}
