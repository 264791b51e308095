// Block-page fingerprints as data (title, body text, Location host, status) and the matcher for an HTTP observation.
import type { HttpObservation } from '../contract/evidence.js';

/**
 * One fingerprint. Every condition that is set must hold, and at least one besides `status` must
 * be set: a status alone does not identify a block page (a service may send 451 for its own legal
 * restrictions; the classifier reports an unexpected status as http.diff). Text comparisons are
 * case-insensitive substring matches on whitespace-collapsed text: generic phrases, never page
 * hashes, so a re-styled page still matches.
 */
export interface BlockpageFingerprint {
  id: string;
  name: string;
  /** Why the rule exists and where the pattern comes from. */
  note: string;
  /** The response status is one of these. */
  status?: readonly number[];
  /** The page title contains any of these. */
  title?: readonly string[];
  /** The body (its first bytes) contains any of these. */
  body?: readonly string[];
  /** …and also any of these (the authority or law a notice cites). */
  bodyContext?: readonly string[];
  /** The host of an absolute redirect target (Location header, or the url= of a Refresh header) matches. */
  locationHost?: RegExp;
  /**
   * Only pages no longer than this (when the length is known): stub pages are small, while a news
   * site's home page may quote the same words in a headline about blocking.
   */
  maxBodyLength?: number;
}

const STUB_MAX = 20_000;

/** Phrases of Russian-language "access restricted" notices used by ISPs in Kazakhstan and the region. */
const RESTRICTED_RU = [
  'Доступ к данному ресурсу ограничен',
  'Доступ к запрашиваемому ресурсу ограничен',
  'Доступ к ресурсу ограничен',
  'Доступ к сайту ограничен',
  'Доступ к данному сайту ограничен',
  'Ресурс заблокирован',
  'Сайт заблокирован',
  'Доступ к ресурсу заблокирован',
];

export const BLOCKPAGES: readonly BlockpageFingerprint[] = [
  {
    id: 'kz.law_notice_ru',
    name: 'Access restricted under the law of the Republic of Kazakhstan (ISP notice, Russian)',
    note:
      'Kazakh ISPs answer blocked sites with a short notice citing the legislation of the Republic of ' +
      'Kazakhstan or the ministry that ordered the restriction.',
    body: RESTRICTED_RU,
    bodyContext: [
      'Республики Казахстан',
      'Республика Казахстан',
      'законодательством РК',
      'законодательства РК',
      'законодательству РК',
      'Министерств',
      'уполномоченного органа',
    ],
    maxBodyLength: STUB_MAX,
  },
  {
    id: 'kz.notice_kk',
    name: 'Access restricted notice in Kazakh',
    note: 'The Kazakh-language version of the same notices ("access is restricted", "blocked").',
    body: ['қол жеткізу шектелген', 'қолжетімділік шектелген', 'ресурс бұғатталған', 'сайт бұғатталған'],
    maxBodyLength: STUB_MAX,
  },
  {
    id: 'kz.isp_block_host',
    name: 'Redirect to an ISP block host under .kz',
    note:
      'Stub pages are served from a block host of the ISP; the redirect to it is the fingerprint. Generic ' +
      'pattern: a first label such as block/blocked/stop/zapret/deny/restricted under a .kz domain.',
    locationHost: /^(?:block|blocked|blocking|blockpage|stop|stub|zapret|deny|denied|restricted|warning)[a-z0-9-]*\.(?:[a-z0-9-]+\.)*kz$/i,
  },
  {
    id: 'kz.ps_page_blocked',
    name: '"Страница заблокирована" stub page',
    note: 'Listed for Kazakhstan in the Censored Planet block-page signatures.',
    body: ['Страница заблокирована'],
    maxBodyLength: STUB_MAX,
  },
  {
    id: 'generic.restricted_title_ru',
    name: 'Russian-language "access restricted" page',
    note: 'A page titled as an access restriction instead of the service.',
    title: ['Доступ ограничен', 'Доступ запрещен', 'Доступ запрещён', ...RESTRICTED_RU],
  },
];

function normalize(text: string): string {
  return text.replace(/&nbsp;|&#160;|\u00a0/gi, ' ').replace(/\s+/g, ' ').trim().toLowerCase();
}

function containsAny(haystack: string, needles: readonly string[]): string | null {
  for (const needle of needles) if (haystack.includes(normalize(needle))) return needle;
  return null;
}

/** The page title: the recorded one, else the <title> of the body head. */
export function pageTitle(http: Pick<HttpObservation, 'title' | 'body_head'>): string | null {
  if (http.title !== null && http.title.trim() !== '') return http.title;
  const m = http.body_head === null ? null : /<title[^>]*>([\s\S]*?)<\/title>/i.exec(http.body_head);
  return m?.[1]?.trim() || null;
}

/** Hosts the response redirects to: the Location header and a Refresh header's url=. */
function redirectHosts(http: HttpObservation): string[] {
  const targets: string[] = [];
  const location = http.headers['location'];
  if (location !== undefined) targets.push(location.trim());
  const refresh = http.headers['refresh'];
  const url = refresh === undefined ? undefined : /url\s*=\s*['"]?([^'"\s;]+)/i.exec(refresh)?.[1];
  if (url !== undefined) targets.push(url);
  const hosts: string[] = [];
  for (const t of targets) {
    try {
      hosts.push(new URL(t).hostname);
    } catch {
      // relative or malformed: stays on the same host
    }
  }
  return hosts;
}

function matches(fp: BlockpageFingerprint, http: HttpObservation): boolean {
  if (fp.title === undefined && fp.body === undefined && fp.locationHost === undefined) return false;
  if (fp.status !== undefined && (http.status === null || !fp.status.includes(http.status))) return false;
  if (fp.maxBodyLength !== undefined && http.body_length !== null && http.body_length > fp.maxBodyLength) return false;
  if (fp.title !== undefined) {
    const title = pageTitle(http);
    if (title === null || containsAny(normalize(title), fp.title) === null) return false;
  }
  if (fp.body !== undefined) {
    const body = http.body_head === null ? '' : normalize(http.body_head);
    if (containsAny(body, fp.body) === null) return false;
    if (fp.bodyContext !== undefined && containsAny(body, fp.bodyContext) === null) return false;
  }
  if (fp.locationHost !== undefined) {
    const re = fp.locationHost;
    if (!redirectHosts(http).some((host) => re.test(host))) return false;
  }
  return true;
}

/** The first fingerprint (most specific first) that the response matches, or null. */
export function matchBlockpage(
  http: HttpObservation,
  fingerprints: readonly BlockpageFingerprint[] = BLOCKPAGES,
): { id: string; name: string } | null {
  for (const fp of fingerprints) if (matches(fp, http)) return { id: fp.id, name: fp.name };
  return null;
}
