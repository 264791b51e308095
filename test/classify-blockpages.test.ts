// Tests of the block-page fingerprints: each rule matches its kind of page, and real pages do not match.
import { describe, expect, it } from 'vitest';
import { BLOCKPAGES, matchBlockpage, pageTitle } from '../probe/blockpages.js';
import type { HttpObservation } from '../contract/evidence.js';
import { http } from './classify-builders.js';

const page = (body: string, over: Partial<HttpObservation> = {}) =>
  http('www.rferl.org', '95.56.243.92', 200, { body_head: body, title: null, body_length: Buffer.byteLength(body), ...over });

describe('matchBlockpage: block pages', () => {
  it('matches the Russian notice citing the law of the Republic of Kazakhstan', () => {
    const body =
      '<html><head><meta charset="utf-8"><title>Ресурс недоступен</title></head><body>' +
      '<h2>Уважаемый абонент!</h2><p>Доступ к данному ресурсу ограничен на основании ' +
      'предписания уполномоченного органа в соответствии с законодательством РК.</p></body></html>';
    expect(matchBlockpage(page(body))).toEqual({ id: 'kz.law_notice_ru', name: expect.stringContaining('Republic of Kazakhstan') });
  });

  it('is case- and whitespace-insensitive and ignores &nbsp;', () => {
    const body = '<p>ДОСТУП К&nbsp;ДАННОМУ   РЕСУРСУ\nОГРАНИЧЕН</p><p>Министерство информации и общественного развития</p>';
    expect(matchBlockpage(page(body))?.id).toBe('kz.law_notice_ru');
  });

  it('matches the Kazakh-language notice', () => {
    expect(matchBlockpage(page('<h1>Бұл ресурсқа қол жеткізу шектелген</h1>'))?.id).toBe('kz.notice_kk');
  });

  it('matches a redirect to a block host under .kz', () => {
    const h = http('www.rferl.org', '95.56.243.92', 302, {
      headers: { location: 'http://block.isp-example.kz/index.html?url=http://www.rferl.org/' },
      body_head: '',
      body_length: 0,
      title: null,
    });
    expect(matchBlockpage(h)?.id).toBe('kz.isp_block_host');
  });

  it('matches a Refresh-header redirect to a block host under .kz', () => {
    const h = http('www.rferl.org', '95.56.243.92', 200, {
      headers: { refresh: '0; URL=http://stop.isp-example.kz/blocked.html' },
      body_head: '<html></html>',
      body_length: 13,
      title: null,
    });
    expect(matchBlockpage(h)?.id).toBe('kz.isp_block_host');
  });

  it('matches the "Страница заблокирована" stub', () => {
    expect(matchBlockpage(page('<html><body><h1>Страница заблокирована</h1></body></html>'))?.id).toBe('kz.ps_page_blocked');
  });

  it('matches a page titled as an access restriction (title recorded or only in the body)', () => {
    expect(matchBlockpage(page('<html><body>…</body></html>', { title: 'Доступ запрещён' }))?.id).toBe('generic.restricted_title_ru');
    expect(matchBlockpage(page('<html><head><title> Сайт заблокирован </title></head></html>'))?.id).toBe('generic.restricted_title_ru');
  });

});

describe('matchBlockpage: real pages do not match', () => {
  it('a service home page', () => {
    const h = http('www.youtube.com', '142.250.74.46', 200, {
      title: 'YouTube',
      body_head: '<!DOCTYPE html><html lang="ru-RU"><head><title>YouTube</title><meta name="description" content="Смотрите любимые видео">',
    });
    expect(matchBlockpage(h)).toBeNull();
  });

  it('a large news page whose headline quotes a block notice', () => {
    const body = '<html><head><title>Азаттык: новости</title></head><body><h2>«Доступ к ресурсу ограничен»: в Республике Казахстан заблокирован сайт</h2>';
    expect(matchBlockpage(page(body, { body_length: 480_000 }))).toBeNull();
  });

  it('the notice phrase without any Kazakh authority, in an ordinary page', () => {
    expect(matchBlockpage(page('<html><head><title>Help</title></head><body>Если доступ к ресурсу ограничен, обратитесь к администратору</body>'))).toBeNull();
  });

  it('ordinary redirects: another host, or a relative Location', () => {
    const to = (location: string) => http('www.facebook.com', '157.240.9.35', 302, { headers: { location }, body_head: '', title: null });
    expect(matchBlockpage(to('https://www.facebook.com/login/'))).toBeNull();
    expect(matchBlockpage(to('https://block.example.com/'))).toBeNull();
    expect(matchBlockpage(to('/unsupportedbrowser'))).toBeNull();
  });

  it('a bare status, even 451: the service may send it for its own legal restrictions', () => {
    const h = http('psiphon.ca', '45.60.0.20', 451, { title: 'psiphon.ca', body_head: '<html><head><title>psiphon.ca</title></head>' });
    expect(matchBlockpage(h)).toBeNull();
    const statusOnly = [{ id: 'x.status', name: 'status only', note: '', status: [451] }];
    expect(matchBlockpage(h, statusOnly)).toBeNull();
  });

  it('a status condition narrows a text rule', () => {
    const rules = [{ id: 'x.451_notice', name: '451 with notice', note: '', status: [451], body: ['Доступ ограничен'] }];
    const body = '<p>Доступ ограничен</p>';
    expect(matchBlockpage(http('a.example', '95.56.243.92', 451, { body_head: body }), rules)?.id).toBe('x.451_notice');
    expect(matchBlockpage(http('a.example', '95.56.243.92', 200, { body_head: body }), rules)).toBeNull();
  });

  it('a failed request', () => {
    expect(matchBlockpage(http('www.facebook.com', '157.240.9.35', null, { failure: 'connection_reset' }))).toBeNull();
  });
});

describe('BLOCKPAGES data', () => {
  it('has unique ids and a text or redirect condition in every rule', () => {
    expect(new Set(BLOCKPAGES.map((b) => b.id)).size).toBe(BLOCKPAGES.length);
    for (const b of BLOCKPAGES) expect([b.title, b.body, b.locationHost].some((c) => c !== undefined)).toBe(true);
  });

  it('takes the title from the body head when none was recorded', () => {
    expect(pageTitle({ title: null, body_head: '<TITLE lang="ru">Доступ ограничен</TITLE>' })).toBe('Доступ ограничен');
    expect(pageTitle({ title: null, body_head: null })).toBeNull();
  });
});
