// Targets and shorthands the catalogue's evidence cases (and the classifier's rules table) are built on.
import type { Evidence } from '../../contract/evidence.js';
import type { Target } from '../../contract/target.js';
import { classify } from '../../probe/classify/classify.js';
import type { CanaryRun } from './case.js';
import { addressesOf, change, healthy, target } from '../classify-builders.js';

export const youtube = target({ id: 'youtube', category: 'video', domains: ['www.youtube.com', 'i.ytimg.com'] });
export const facebook = target({ id: 'facebook', domains: ['www.facebook.com'] });
export const telegram = target({
  id: 'telegram',
  category: 'messenger',
  domains: ['web.telegram.org'],
  endpoints: [
    { ip: '149.154.167.51', ports: [443] },
    { ip: '149.154.175.50', ports: [443] },
  ],
});
export const news = target({ id: 'rferl', category: 'news', domains: ['www.rferl.org'], ports: [80], tls_ports: [], http: { path: '/', status: [200, 301, 302] } });
/** A web service measured over http on 80 and https on 443, as the shipped list does. */
export const web = target({ id: 'instagram', domains: ['www.instagram.com'], ports: [80, 443] });
export const noTls = target({ id: 'plain', category: 'news', domains: ['news.example.org'], ports: [80], tls_ports: [], http: null });

export const FB = 'www.facebook.com';
export const [FB4, FB6] = addressesOf(FB) as [string, string];

export const QAZNET_ROOT_FP = '00:30:9C:73:6D:D6:61:DA:6F:1E:B2:41:73:AA:84:99:44:C1:68:A4:3A:15:BF:FD:19:2E:EC:FD:B6:F8:DB:D2';

/** Facebook with every TLS handshake replaced. */
export const fbTls = (to: Parameters<typeof change<'tls'>>[3]): Evidence => change(healthy(facebook), 'tls', () => true, to);
/** Facebook with every TCP connect replaced. */
export const fbTcp = (to: Parameters<typeof change<'tcp'>>[3]): Evidence => change(healthy(facebook), 'tcp', () => true, to);

/** One target's run as the canary rule sees it: classified from its evidence. */
export function canaryRun(t: Target, e: Evidence): CanaryRun {
  return { target: t, decision: classify(t, e), evidence: e };
}
