import { afterEach, describe, expect, test } from 'vitest';
import { clearMocks, mockIPC } from '@tauri-apps/api/mocks';
import { Profiles, parseHeaders, profileProblem, THIS_COMPUTER } from './profiles.svelte';
import type { Profile } from '../backend';

afterEach(() => clearMocks());

/** A fake store plugin behind mockIPC, as the shell's would answer. */
function fakeStore(initial: Record<string, unknown> = {}) {
  const data = new Map(Object.entries(initial));
  const saves: unknown[] = [];
  mockIPC((cmd, args) => {
    const a = args as Record<string, unknown>;
    switch (cmd) {
      case 'plugin:store|load': return 7;
      case 'plugin:store|get': return [data.get(a.key as string) ?? null, data.has(a.key as string)];
      case 'plugin:store|set': data.set(a.key as string, a.value); return null;
      case 'plugin:store|save': saves.push(structuredClone(data.get('profiles'))); return null;
    }
  });
  return saves;
}

const staging: Profile = { ...THIS_COMPUTER, name: 'staging', url: 'https://staging.example:7999', transport: 'ws' };

describe('server profiles', () => {
  test('"This computer" is always there, with saved servers after it', async () => {
    fakeStore({ profiles: [staging] });
    const p = new Profiles();
    await p.load(THIS_COMPUTER);
    expect(p.all.map((x) => x.name)).toEqual(['This computer', 'staging']);
    expect(p.active.name).toBe('This computer');
  });

  test('opened with --connect: that server is active and listed', async () => {
    fakeStore();
    const p = new Profiles();
    await p.load({ ...THIS_COMPUTER, name: '127.0.0.1:7999', url: 'http://127.0.0.1:7999' });
    expect(p.active.url).toBe('http://127.0.0.1:7999');
    expect(p.all).toHaveLength(2);
  });

  test('saving an edited profile replaces it and persists the list through the store plugin', async () => {
    const saves = fakeStore({ profiles: [staging] });
    const p = new Profiles();
    await p.load(THIS_COMPUTER);
    await p.save({ ...staging, name: 'staging-eu', nick: 'ops' }, 'staging');
    expect(p.saved.map((x) => x.name)).toEqual(['staging-eu']);
    expect(saves).toEqual([[{ ...staging, name: 'staging-eu', nick: 'ops' }]]);
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
