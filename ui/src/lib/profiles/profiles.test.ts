import { describe, expect, test } from 'vitest';
import { Profiles, parseHeaders, profileProblem, THIS_COMPUTER } from './profiles.svelte';
import { fakeBackend } from '../backend/testing';
import type { Profile } from '../backend';

const staging: Profile = { ...THIS_COMPUTER, name: 'staging', url: 'https://staging.example:7999', transport: 'ws' };

describe('server profiles', () => {
  test('"This computer" is always there, with saved servers after it', async () => {
    const p = new Profiles(fakeBackend({ saved: [staging] }).backend);
    await p.load(THIS_COMPUTER);
    expect(p.all.map((x) => x.name)).toEqual(['This computer', 'staging']);
    expect(p.active.name).toBe('This computer');
  });

  test('opened with --connect: that server is active and listed', async () => {
    const p = new Profiles(fakeBackend().backend);
    await p.load({ ...THIS_COMPUTER, name: '127.0.0.1:7999', url: 'http://127.0.0.1:7999' });
    expect(p.active.url).toBe('http://127.0.0.1:7999');
    expect(p.all).toHaveLength(2);
  });

  test('saving an edited profile replaces it and persists the list', async () => {
    const store = fakeBackend({ saved: [staging] });
    const p = new Profiles(store.backend);
    await p.load(THIS_COMPUTER);
    await p.save({ ...staging, name: 'staging-eu', nick: 'ops' }, 'staging');
    expect(p.saved.map((x) => x.name)).toEqual(['staging-eu']);
    expect(store.called('saveProfiles')).toEqual([[[{ ...staging, name: 'staging-eu', nick: 'ops' }]]]);
    expect(store.saved()).toEqual([{ ...staging, name: 'staging-eu', nick: 'ops' }]);
    await p.remove('staging-eu');
    expect(p.all.map((x) => x.name)).toEqual(['This computer']);
  });

  test('problems are explained in words', () => {
    expect(profileProblem({ ...staging, name: '' }, [])).toMatch(/Give the server a name/);
    expect(profileProblem(staging, ['staging'])).toMatch(/already a server called "staging"/);
    expect(profileProblem({ ...staging, url: 'staging' }, [])).toMatch(/should start with http/);
    expect(profileProblem(staging, ['This computer'])).toBeNull();
  });

  test('extra headers are written one per line as "Name: value"', () => {
    expect(parseHeaders('X-Team: ops\n\nX-Env:  prod ')).toEqual({ headers: [['X-Team', 'ops'], ['X-Env', 'prod']], problem: null });
    expect(parseHeaders('nonsense').problem).toMatch(/Line 1/);
  });
});
