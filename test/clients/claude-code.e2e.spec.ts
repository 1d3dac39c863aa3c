import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import which from 'which';
import { FakeUpstream, type RecordedRequest, type Script } from '../fakes/fake-upstream';
import { startApp, type RunningApp } from '../support/app';
import { eventually } from '../support/sse-client';

/** Claude Code, the real CLI (npm @anthropic-ai/claude-code, a native binary): CLAUDE_BIN, else on PATH; under CI=true it must be there. */
const CLAUDE = process.env.CLAUDE_BIN ?? which.sync('claude', { nothrow: true }) ?? '';
const runnable = CLAUDE !== '' && existsSync(CLAUDE);
if (!runnable) {
  const need = 'needs Claude Code: npm install --prefix /tmp/vdm-claude-code @anthropic-ai/claude-code@2.1.332 and set CLAUDE_BIN=/tmp/vdm-claude-code/node_modules/.bin/claude (a native binary; npm warns on Node 20 that the package wants Node 22, and it runs all the same)';
  if (/^(true|1)$/i.test(process.env.CI ?? '')) throw new Error(`CI must run this suite, but it ${need}`);
  console.warn(`skipped: ${need}`);
}

const GATEWAY_KEY = 'vdm-cc-gateway-key-5e71a0';
const TASK = 'VDM-CC-TASK';

function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  return Array.isArray(content) ? content.map((b: { text?: unknown }) => (typeof b.text === 'string' ? b.text : '')).join('') : '';
}

function hasToolResult(req: RecordedRequest): boolean {
  const messages = (req.body?.messages ?? []) as { content: unknown }[];
  const last = messages.at(-1);
  return Array.isArray(last?.content) && (last.content as { type?: string }[]).some((b) => b.type === 'tool_result');
}

function run(args: string[], cwd: string, env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(CLAUDE, args, { cwd, env, timeout: 90_000, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
    // Print mode reads a prompt from stdin too: there is none.
    child.stdin?.end();
  });
}

describe.runIf(runnable)('Claude Code through the gateway', () => {
  let fake: FakeUpstream;
  let gw: RunningApp;
  let work: string;

  beforeAll(async () => {
    fake = await FakeUpstream.start();
    gw = await startApp({ ANTHROPIC_API_KEY: 'sk-ant-cc-provider-key-9d2f', ANTHROPIC_BASE_URL: fake.url, VDM_DEFAULT_PROVIDER: 'anthropic', PROXY_API_KEY: GATEWAY_KEY });
    work = mkdtempSync(join(tmpdir(), 'vdm-claude-code-'));
  });

  afterAll(async () => {
    await gw?.close();
    await fake?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('runs a real tool call, and every turn is counted with its tokens', async () => {
    const target = join(work, 'proof.txt');
    fake.script((req): Script => {
      const messages = (req.body?.messages ?? []) as { content: unknown }[];
      const asked = messages.some((m) => textOf(m.content).includes(TASK));
      if (asked && hasToolResult(req)) return { text: 'The file is written.', usage: { input: 300, output: 7, cacheRead: 50 } };
      if (asked) return { toolCalls: [{ name: 'Bash', input: { command: `echo claude-code-ran > ${target}`, description: 'Write the proof file' } }], usage: { input: 200, output: 20, cacheCreation: 30 } };
      // Anything else Claude Code asks on the side (titles, summaries) gets a short text.
      return { text: 'ok', usage: { input: 10, output: 1 } };
    });
    const home = join(work, 'home');
    const env = {
      PATH: process.env.PATH ?? '',
      HOME: home,
      ANTHROPIC_BASE_URL: gw.url,
      ANTHROPIC_API_KEY: GATEWAY_KEY,
      DISABLE_TELEMETRY: '1',
      DISABLE_AUTOUPDATER: '1',
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
    };
    const result = await run(['-p', `${TASK}: write the proof file with the Bash tool`, '--model', 'sonnet', '--output-format', 'json', '--allowedTools', 'Bash'], work, env);
    expect(result.code, `${result.stderr}\n${result.stdout.slice(0, 2000)}`).toBe(0);
    const answer = JSON.parse(result.stdout) as { is_error: boolean; num_turns: number };
    expect(answer.is_error).toBe(false);
    // The tool really ran on this machine.
    expect(readFileSync(target, 'utf8').trim()).toBe('claude-code-ran');

    await eventually(() => gw.tracker.activeCount === 0);
    const messages = fake.requests.filter((r) => r.endpoint === 'messages');
    expect(messages.length).toBeGreaterThanOrEqual(2);
    const doc = (await (await fetch(`${gw.url}/metrics/running-totals?format=json`, { headers: { 'x-api-key': GATEWAY_KEY } })).json()) as {
      summary: Record<string, number>;
    };
    expect(doc.summary.total_requests).toBe(messages.length);
    expect(doc.summary.total_errors).toBe(0);
    expect(doc.summary.total_tool_calls).toBeGreaterThanOrEqual(1);
    expect(doc.summary.total_tool_results).toBeGreaterThanOrEqual(1);
    const sideCalls = messages.filter((r) => !(r.body?.messages ?? []).some((m: { content: unknown }) => textOf(m.content).includes(TASK))).length;
    expect(doc.summary.total_input_tokens).toBe(200 + 300 + 10 * sideCalls);
    expect(doc.summary.total_output_tokens).toBe(20 + 7 + sideCalls);
    expect(doc.summary.total_cache_read_tokens).toBe(50);
    expect(doc.summary.total_cache_creation_tokens).toBe(30);
    // The session Claude Code names in metadata.user_id is on every trace of the run.
    const userId = JSON.parse(String(messages[0].body.metadata.user_id)) as { session_id: string };
    const logs = (await (await fetch(`${gw.url}/metrics/logs`, { headers: { 'x-api-key': GATEWAY_KEY } })).json()) as { traces: { session: string | null }[] };
    expect(logs.traces.length).toBe(messages.length);
    for (const t of logs.traces) expect(t.session).toBe(userId.session_id);
    // The gateway key never travelled upstream.
    for (const r of fake.requests) expect(JSON.stringify(r.headers)).not.toContain(GATEWAY_KEY);
  });

  it('works against an OpenAI-format model through conversion, with nothing it sent dropped', async () => {
    const converted = await startApp({ OPENAI_API_KEY: 'sk-openai-cc-provider-key-41c7', OPENAI_BASE_URL: `${fake.url}/v1`, VDM_DEFAULT_PROVIDER: 'openai', PROXY_API_KEY: GATEWAY_KEY });
    try {
      const target = join(work, 'converted.txt');
      const before = fake.requests.length;
      fake.script((req): Script => {
        const messages = (req.body?.messages ?? []) as { role: string; content: unknown }[];
        const asked = messages.some((m) => textOf(m.content).includes(TASK));
        if (asked && messages.at(-1)?.role === 'tool') return { text: 'Done.', usage: { input: 300, output: 3 } };
        if (asked) return { toolCalls: [{ name: 'Bash', input: { command: `echo converted-ran > ${target}`, description: 'Write the file' } }], usage: { input: 200, output: 20 } };
        return { text: 'ok', usage: { input: 10, output: 1 } };
      });
      const env = {
        PATH: process.env.PATH ?? '',
        HOME: join(work, 'home-converted'),
        ANTHROPIC_BASE_URL: converted.url,
        ANTHROPIC_API_KEY: GATEWAY_KEY,
        DISABLE_TELEMETRY: '1',
        DISABLE_AUTOUPDATER: '1',
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
      };
      const result = await run(['-p', `${TASK}: write the file with the Bash tool`, '--model', 'openai:gpt-cc-test', '--output-format', 'json', '--allowedTools', 'Bash'], work, env);
      expect(result.code, `${result.stderr}\n${result.stdout.slice(0, 2000)}`).toBe(0);
      expect((JSON.parse(result.stdout) as { is_error: boolean }).is_error).toBe(false);
      expect(readFileSync(target, 'utf8').trim()).toBe('converted-ran');

      await eventually(() => converted.tracker.activeCount === 0);
      const chats = fake.requests.slice(before).filter((r) => r.endpoint === 'chat_completions');
      expect(chats.length).toBeGreaterThanOrEqual(2);
      // Nothing was refused, and Claude Code's environment block, a system message inside its
      // messages for a model that is not Claude's, reached the upstream in place.
      const doc = (await (await fetch(`${converted.url}/metrics/running-totals?format=json`, { headers: { 'x-api-key': GATEWAY_KEY } })).json()) as { summary: Record<string, number> };
      expect(doc.summary).toMatchObject({ total_requests: chats.length, total_errors: 0 });
      const main = chats.find((r) => (r.body.messages as { content: unknown }[]).some((m) => textOf(m.content).includes(TASK)))!;
      const roles = (main.body.messages as { role: string; content: unknown }[]).map((m) => [m.role, textOf(m.content).slice(0, 13)]);
      expect(roles[0][0]).toBe('system');
      expect(roles.slice(1)).toContainEqual(['system', '# Environment']);
      // The 150-character metadata.user_id went upstream as a digest OpenAI accepts.
      for (const r of chats) expect(String(r.body.user).length).toBeLessThanOrEqual(64);
    } finally {
      await converted.close();
    }
  });
});

