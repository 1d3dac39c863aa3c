import { describe, expect, it } from 'vitest';
import { callerFacts, cleanCallerField } from './caller-facts';

const SESSION = '4f1c2b9e-7a3d-4e8f-9b21-0c6d5e4a3f12';
const ACCOUNT = '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d';
const HASH = 'a'.repeat(64);

describe(callerFacts.name, () => {
  it('reads user and session from the x-vdm headers first', () => {
    const sut = callerFacts({ 'x-vdm-user': 'alice', 'x-vdm-session': 's-1', 'session-id': 'codex' }, { metadata: { user_id: 'bob' } }, true);
    expect(sut).toEqual({ user: 'alice', session: 's-1' });
  });

  it("splits Claude Code's metadata.user_id into the user and its session", () => {
    const userId = `user_${HASH}_account_${ACCOUNT}_session_${SESSION}`;
    expect(callerFacts({}, { metadata: { user_id: userId } }, true)).toEqual({ user: `user_${HASH}_account_${ACCOUNT}`, session: SESSION });
    expect(callerFacts({}, { metadata: { user_id: `user_${HASH}_account__session_${SESSION}` } }, true).session).toBe(SESSION);
  });

  it("reads current Claude Code's JSON metadata.user_id: the account (else the device) and the session", () => {
    const userId = JSON.stringify({ device_id: HASH, account_uuid: '', session_id: SESSION });
    expect(callerFacts({}, { metadata: { user_id: userId } }, true)).toEqual({ user: HASH, session: SESSION });
    const withAccount = JSON.stringify({ device_id: HASH, account_uuid: ACCOUNT, session_id: SESSION });
    expect(callerFacts({}, { metadata: { user_id: withAccount } }, true)).toEqual({ user: ACCOUNT, session: SESSION });
    expect(callerFacts({}, { metadata: { user_id: '{not json' } }, true)).toEqual({ user: '{not json' });
  });

  it('takes any other Anthropic metadata.user_id as the user, with no session', () => {
    expect(callerFacts({}, { metadata: { user_id: 'team-member-7' } }, true)).toEqual({ user: 'team-member-7', session: undefined });
  });

  it('reads OpenAI user, else safety_identifier, and the Codex session-id header', () => {
    expect(callerFacts({ 'session-id': 'codex-1' }, { user: 'u1', safety_identifier: 'sid' }, false)).toEqual({ user: 'u1', session: 'codex-1' });
    expect(callerFacts({ session_id: 'codex-2' }, { safety_identifier: 'sid' }, false)).toEqual({ user: 'sid', session: 'codex-2' });
  });

  it("reads opencode's x-session-id header, after the x-vdm, Claude Code and Codex sessions", () => {
    const opencode = { 'x-session-id': 'ses_opencode1', 'x-session-affinity': 'ses_opencode1' };
    expect(callerFacts(opencode, { user: 'u1' }, false)).toEqual({ user: 'u1', session: 'ses_opencode1' });
    expect(callerFacts(opencode, {}, true)).toEqual({ user: undefined, session: 'ses_opencode1' });
    expect(callerFacts({ ...opencode, 'session-id': 'codex-1' }, {}, false).session).toBe('codex-1');
    expect(callerFacts({ ...opencode, 'x-vdm-session': 's-1' }, {}, false).session).toBe('s-1');
    const userId = `user_${HASH}_account_${ACCOUNT}_session_${SESSION}`;
    expect(callerFacts(opencode, { metadata: { user_id: userId } }, true).session).toBe(SESSION);
    expect(callerFacts({ 'x-session-id': `\u0001${'s'.repeat(300)}` }, {}, false).session).toBe('s'.repeat(128));
  });

  it('ignores an OpenAI user field on the Anthropic API and non-string values', () => {
    expect(callerFacts({}, { user: 'u1', metadata: { user_id: 42 } }, true)).toEqual({ user: undefined, session: undefined });
    expect(callerFacts({}, null, false)).toEqual({ user: undefined, session: undefined });
  });
});

describe(cleanCallerField.name, () => {
  it('removes control characters and keeps at most 128 characters', () => {
    expect(cleanCallerField('a\u0000b\nc\u001bd\u2028e')).toBe('abcde');
    expect(cleanCallerField('x'.repeat(500))).toHaveLength(128);
    expect(cleanCallerField('\u0001\u0002')).toBeUndefined();
  });
});
