/**
 * The console's language over the real HTTP API and a real embedded Postgres: the user's own, then
 * their group's default, then the site's apply, in that order; who may set which level; each change
 * audited with its old and new value (a request that changes nothing is not); bad input refused.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createApiUsers, startApiHarness, type ApiHarness } from '../helpers/api-harness.js';

describe('console language levels (real HTTP, real Postgres)', { timeout: 120000 }, () => {
  let h: ApiHarness;

  before(async () => {
    h = await startApiHarness();
    await createApiUsers(h);
  });

  after(async () => {
    await h?.close();
  });

  const me = async (as: string) => {
    const r = await h.call('GET', '/api/v1/me', { as });
    assert.equal(r.status, 200);
    return `${r.json.language}/${r.json.languageFrom}`;
  };
  const put = (as: string, path: string, language: unknown) =>
    h.call('PUT', `/api/v1${path}`, { as, body: { language } });
  const audited = async () => {
    const r = await h.call('GET', '/api/v1/audit?action=language.update&limit=100', { as: 'admin' });
    return (
      r.json.items as { resource: string; resourceId: string; details: { from: unknown; to: unknown } }[]
    )
      .map((e) => `${e.resource}:${e.details.from}->${e.details.to}`)
      .reverse();
  };
  const id = async (username: string) => {
    const r = await h.call('GET', '/api/v1/users', { as: 'admin' });
    return (r.json.items as { id: string; username: string }[]).find((u) => u.username === username)?.id;
  };

  it('applies the user’s own, then the group’s, then the site’s language', async () => {
    assert.equal(await me('alice'), 'null/null', 'nothing set: the browser decides');
    assert.equal((await put('admin', '/languages/site', 'fr')).status, 200);
    assert.equal(await me('alice'), 'fr/site');
    assert.equal((await put('admin', '/groups/sales/language', 'es')).status, 200);
    assert.equal(await me('alice'), 'es/group', 'alice is in sales');
    assert.equal(await me('bob'), 'fr/site', 'bob is in support, which has no default');
    assert.equal((await put('alice', '/me/language', 'ru')).status, 200);
    assert.equal(await me('alice'), 'ru/user');
    assert.equal((await put('alice', '/me/language', 'ru')).status, 200, 'the same again');
    assert.equal((await put('alice', '/me/language', null)).status, 200);
    assert.equal(await me('alice'), 'es/group', 'cleared: the group’s applies again');
    assert.equal((await put('rec', '/me/language', 'pt-BR')).status, 200, 'record-only users too');
    assert.equal(await me('rec'), 'pt-BR/user');

    const seen = await h.call('GET', '/api/v1/languages', { as: 'sup' });
    assert.deepEqual(seen.json.languages, ['en', 'es', 'fr', 'pt-BR', 'ru']);
    assert.equal(seen.json.site, 'fr');
    assert.deepEqual(seen.json.groups, { sales: 'es' });
    const own = await h.call('GET', '/api/v1/languages', { as: 'alice' });
    assert.equal(own.json.groups, undefined, 'a user is not shown the groups’ defaults');
    assert.equal(`${own.json.own}/${own.json.language}/${own.json.from}`, 'null/es/group');

    assert.deepEqual(await audited(), [
      'setting:null->fr',
      'group:null->es',
      'user:null->ru',
      'user:ru->null',
      'user:null->pt-BR',
    ]);
  });

  it('lets supervisors set the language of lower roles in their groups only', async () => {
    const alice = await id('alice');
    const bob = await id('bob');
    const sup = await id('sup');
    const admin = await id('admin');
    assert.equal((await put('sup', `/users/${alice}/language`, 'pt-BR')).status, 200, 'alice is in sales');
    assert.equal(await me('alice'), 'pt-BR/user');
    assert.equal((await put('sup', `/users/${bob}/language`, 'es')).status, 403, 'bob is in support');
    assert.equal((await put('sup', `/users/${admin}/language`, 'es')).status, 403, 'an admin');
    assert.equal((await put('sup', `/users/${sup}/language`, 'fr')).status, 200, 'themselves');
    assert.equal(
      (await put('alice', `/users/${bob}/language`, 'es')).status,
      403,
      'users set only their own',
    );
    assert.equal((await put('admin', `/users/${bob}/language`, 'ru')).status, 200, 'admins anyone');
    assert.equal(await me('bob'), 'ru/user');
    assert.equal((await put('sup', '/groups/sales/language', 'ru')).status, 403, 'group defaults: admins');
    assert.equal((await put('sup', '/languages/site', 'ru')).status, 403, 'the site default: admins');
  });

  it('refuses bad input with clear errors', async () => {
    const alice = await id('alice');
    const bad = [
      await put('alice', '/me/language', 'de'),
      await put('alice', '/me/language', ''),
      await h.call('PUT', '/api/v1/me/language', { as: 'alice', body: { language: 'es', x: 1 } }),
      await h.call('PUT', '/api/v1/me/language', { as: 'alice', body: {} }),
    ];
    for (const r of bad) assert.equal(r.status, 400, JSON.stringify(r.json));
    assert.equal(
      (await put('admin', '/users/00000000-0000-0000-0000-000000000000/language', 'es')).status,
      404,
    );
    assert.equal((await put('admin', '/groups/nope/language', 'es')).status, 404);
    assert.equal(await me('alice'), 'pt-BR/user', 'nothing changed');
    const token = await h.call('PUT', '/api/v1/me/language', {
      bearer: 'the-admin-token',
      body: { language: 'es' },
    });
    assert.equal(token.status, 400, 'the admin token has no user');
    assert.match(String(token.json.error), /admin token/);
    assert.equal((await put('admin', `/users/${alice}/language`, 'pt-BR')).status, 200);
    assert.equal((await audited()).filter((e) => e === 'user:pt-BR->pt-BR').length, 0, 'no change, no entry');
  });
});
