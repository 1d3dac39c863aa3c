import { NAME_MAX, withoutControlCharacters } from '../../core/bounded-text';
import { isRecord } from '../../core/json';

type Headers = Record<string, string | string[] | undefined>;

/** Who is behind a request, as the client names them (contract section 10); unbounded, so traces only. */
export interface CallerFacts {
  user?: string;
  session?: string;
}

export const CALLER_FIELD_MAX = NAME_MAX;

/**
 * Control characters removed, at most 128 characters; empty is none. Only the first 512 characters
 * are looked at, so a value of megabytes costs no more than a short one.
 */
export function cleanCallerField(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const clean = [...withoutControlCharacters(value.slice(0, 4 * CALLER_FIELD_MAX)).trim()].slice(0, CALLER_FIELD_MAX).join('');
  return clean === '' ? undefined : clean;
}

function header(headers: Headers, name: string): string | undefined {
  const value = headers[name];
  return typeof value === 'string' ? value : undefined;
}

// Claude Code: `user_<hash>_account_<uuid>_session_<uuid>` (the account part may be empty).
const CLAUDE_CODE_SESSION = /_session_([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/i;

/**
 * Claude Code's user_id without its session, and the session. Older releases send
 * `user_<hash>_account_<uuid>_session_<uuid>`; current ones a JSON object as a string,
 * `{"device_id": "<hash>", "account_uuid": "<uuid or empty>", "session_id": "<uuid>"}`.
 */
function splitClaudeCodeUserId(userId: string): { user: string; session?: string } {
  if (userId.startsWith('{')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(userId);
    } catch {
      return { user: userId };
    }
    if (isRecord(parsed) && typeof parsed.session_id === 'string') {
      const account = typeof parsed.account_uuid === 'string' && parsed.account_uuid !== '' ? parsed.account_uuid : undefined;
      const device = typeof parsed.device_id === 'string' && parsed.device_id !== '' ? parsed.device_id : undefined;
      return { user: account ?? device ?? userId, session: parsed.session_id };
    }
    return { user: userId };
  }
  const m = CLAUDE_CODE_SESSION.exec(userId);
  return m ? { user: userId.slice(0, m.index), session: m[1] } : { user: userId };
}

/**
 * `user`: the `x-vdm-user` header, else Anthropic `metadata.user_id`, else OpenAI `user` /
 * `safety_identifier`. `session`: `x-vdm-session`, else Claude Code's `session_<uuid>` in
 * `metadata.user_id`, else Codex CLI's `session-id` (also spelled `session_id`) header, else
 * opencode's `x-session-id` (which it repeats in `x-session-affinity`).
 */
export function callerFacts(headers: Headers, body: unknown, anthropic: boolean): CallerFacts {
  let user: unknown = header(headers, 'x-vdm-user');
  let session: unknown = header(headers, 'x-vdm-session');
  const b = isRecord(body) ? body : {};
  if (anthropic) {
    const userId = isRecord(b.metadata) ? b.metadata.user_id : undefined;
    if (typeof userId === 'string') {
      const split = splitClaudeCodeUserId(userId);
      user ??= split.user;
      session ??= split.session;
    }
  } else {
    user ??= typeof b.user === 'string' ? b.user : b.safety_identifier;
  }
  session ??= header(headers, 'session-id') ?? header(headers, 'session_id') ?? header(headers, 'x-session-id');
  return { user: cleanCallerField(user), session: cleanCallerField(session) };
}
