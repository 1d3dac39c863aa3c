import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_TEXT } from '../../src/gateway/demo/demo-upstream';
import { FakeUpstream, type RecordedRequest, type Script } from '../fakes/fake-upstream';
import { startApp, type RunningApp } from '../support/app';
import which from 'which';

/** Codex CLI (npm @openai/codex): CODEX_BIN, else on PATH or in node_modules/.bin; under CI=true it must be there. */
function findCodex(): string | undefined {
  const found = process.env.CODEX_BIN ?? which.sync('codex', { nothrow: true, path: [process.env.PATH ?? '', resolve(__dirname, '../../node_modules/.bin')].join(delimiter) }) ?? undefined;
  if (found !== undefined) return found;
  const need = 'needs Codex CLI; npm install -g @openai/codex (or set CODEX_BIN)';
  if (/^(true|1)$/i.test(process.env.CI ?? '')) throw new Error(`CI must run this suite, but it ${need}`);
  console.warn(`skipped: ${need}`);
  return undefined;
}

const codex = findCodex();

const MARKER = `vdm-marker-${process.pid}-${Date.now()}`;

function hasToolOutput(req: RecordedRequest): boolean {
  const input: unknown = req.body?.input;
  return Array.isArray(input) && input.some((item: { type?: string }) => item.type === 'function_call_output');
}

/** Turn 1: the model asks Codex to run a command; turn 2: it answers once the command's output is back. */
function turn(req: RecordedRequest): Script {
  if (hasToolOutput(req)) return { text: 'The marker file says what it says.', usage: { input: 200, output: 30, cacheRead: 100, reasoning: 10 } };
  const tools: { name?: string }[] = Array.isArray(req.body?.tools) ? req.body.tools : [];
  const name = tools.some((t) => t.name === 'exec_command') ? 'exec_command' : 'shell';
  const input = name === 'exec_command' ? { cmd: 'cat marker.txt' } : { command: ['cat', 'marker.txt'] };
  return { toolCalls: [{ name, input }], usage: { input: 150, output: 20, reasoning: 15 } };
}

function run(bin: string, args: string[], env: NodeJS.ProcessEnv, cwd: string): Promise<{ code: number; output: string }> {
  return new Promise((done) => {
    const child = execFile(bin, args, { env, cwd, timeout: 120_000 }, (error, stdout, stderr) => {
      done({ code: error ? ((error as { code?: number }).code ?? 1) : 0, output: `${stdout}\n${stderr}` });
    });
    // codex exec reads more prompt from a piped stdin until it ends.
    child.stdin?.end();
  });
}

describe.skipIf(codex === undefined)('Codex CLI through the gateway', () => {
  let fake: FakeUpstream;
  let gw: RunningApp;
  let home: string;

  beforeAll(async () => {
    fake = await FakeUpstream.start();
    gw = await startApp({ OPENAI_API_KEY: 'sk-upstream-openai-secret-0002', OPENAI_BASE_URL: `${fake.url}/v1`, VDM_DEFAULT_PROVIDER: 'openai' });
    home = mkdtempSync(join(tmpdir(), 'vdm-codex-'));
  });
  afterAll(async () => {
    await gw?.close();
    await fake?.close();
    if (home) rmSync(home, { recursive: true, force: true });
  });

  it('runs a real tool call and every turn is counted, with its tokens and reasoning tokens', async () => {
    fake.script(turn);
    writeFileSync(join(home, 'marker.txt'), MARKER);
    const { code, output } = await run(
      codex!,
      [
        'exec',
        '--skip-git-repo-check',
        // The sandbox needs user namespaces, which containers often lack; the command only reads a file in a temp dir.
        '--sandbox',
        'danger-full-access',
        '-c',
        'model_provider="vdm"',
        '-c',
        'model_providers.vdm.name="vdm"',
        '-c',
        `model_providers.vdm.base_url="${gw.url}/v1"`,
        '-c',
        'model_providers.vdm.wire_api="responses"',
        '-c',
        'model_providers.vdm.env_key="VDM_TEST_KEY"',
        '-m',
        'openai:gpt-5-codex',
        'Read marker.txt and tell me what it says.',
      ],
      { ...process.env, CODEX_HOME: home, HOME: home, VDM_TEST_KEY: 'client-key' },
      home,
    );
    expect(code, output).toBe(0);
    expect(output).toContain('The marker file says what it says.');

    const turns = fake.requests.filter((r) => r.endpoint === 'responses');
    expect(turns.length).toBeGreaterThanOrEqual(2);
    // The command really ran: its output, the marker, went back to the model in the next turn.
    const outputs = turns.flatMap((r) => (r.body.input as { type?: string; output?: unknown }[]).filter((i) => i.type === 'function_call_output'));
    expect(JSON.stringify(outputs)).toContain(MARKER);

    const traces = gw.tracker.recentTraces(50).filter((t) => t.api === 'openai_responses');
    expect(traces).toHaveLength(turns.length);
    expect(traces.every((t) => t.status === 'ok' && t.is_streaming)).toBe(true);
    const doc = (await (await fetch(`${gw.url}/metrics/running-totals?format=json`)).json()) as any;
    const section = doc.providers.openai.models['gpt-5-codex'].total;
    const toolTurns = turns.filter((r) => !hasToolOutput(r)).length;
    const answerTurns = turns.length - toolTurns;
    expect(section).toMatchObject({
      requests: turns.length,
      errors: 0,
      tool_calls: toolTurns,
      input_tokens: 150 * toolTurns + 200 * answerTurns,
      cache_read_tokens: 100 * answerTurns,
      output_tokens: 20 * toolTurns + 30 * answerTurns,
      reasoning_tokens: 15 * toolTurns + 10 * answerTurns,
    });
    expect(section.tool_results).toBeGreaterThanOrEqual(1);
    expect(doc.summary.active_requests).toBe(0);
  }, 150_000);
});

describe.skipIf(codex === undefined)('Codex CLI against the zero-config gateway (the demo provider)', () => {
  let gw: RunningApp;
  let home: string;

  beforeAll(async () => {
    gw = await startApp({ DEMO_TOKEN_DELAY_SECONDS: '0.001' });
    home = mkdtempSync(join(tmpdir(), 'vdm-codex-demo-'));
  });
  afterAll(async () => {
    await gw?.close();
    if (home) rmSync(home, { recursive: true, force: true });
  });

  it('answers codex exec with nothing configured, a tool call included; each turn is counted with its reasoning tokens and priced', async () => {
    // The demo calls a tool on every third request: two requests first make Codex's first turn a tool call.
    for (let i = 0; i < 2; i++) {
      const warm = await fetch(`${gw.url}/v1/responses`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'gpt-demo', input: 'x' }) });
      expect(warm.status).toBe(200);
    }
    const last = join(home, 'last-message.txt');
    const { code, output } = await run(
      codex!,
      [
        'exec',
        '--skip-git-repo-check',
        '--sandbox',
        'read-only',
        '--output-last-message',
        last,
        '-c',
        'model_provider="demo"',
        '-c',
        'model_providers.demo.name="demo"',
        '-c',
        `model_providers.demo.base_url="${gw.url}/v1"`,
        '-c',
        'model_providers.demo.wire_api="responses"',
        '-m',
        'gpt-demo',
        'Say hello.',
      ],
      { ...process.env, CODEX_HOME: home, HOME: home },
      home,
    );
    expect(code, output).toBe(0);
    const answer = readFileSync(last, 'utf8').trim();
    expect(answer.split(' ').length).toBeGreaterThan(5);
    expect(`${DEMO_TEXT} ${DEMO_TEXT}`).toContain(answer);

    // Codex's turns: the tool call, then the answer once the call's result (here an error: the demo's arguments do not fit) is back.
    const turns = gw.tracker.recentTraces(50).filter((t) => t.is_streaming).reverse();
    expect(turns.length).toBeGreaterThanOrEqual(2);
    expect(turns[0]).toMatchObject({ api: 'openai_responses', provider: 'demo', model: 'gpt-demo', status: 'ok', tool_call_count: 1 });
    expect(turns.at(-1)).toMatchObject({ status: 'ok', tool_call_count: 0 });
    expect(turns.at(-1)!.tool_result_count).toBeGreaterThanOrEqual(1);
    for (const t of turns) {
      expect(t.reasoning_tokens).toBeGreaterThan(0);
      expect(t.output_tokens).toBeGreaterThan(t.reasoning_tokens);
      expect(t.cost_usd).toBeGreaterThan(0);
    }
    const doc = (await (await fetch(`${gw.url}/metrics/running-totals?format=json`)).json()) as any;
    const streaming = doc.providers.demo.models['gpt-demo'].streaming;
    expect(streaming).toMatchObject({ requests: turns.length, errors: 0, tool_calls: 1 });
    expect(streaming.reasoning_tokens).toBe(turns.reduce((sum, t) => sum + t.reasoning_tokens, 0));
    expect(doc.summary.active_requests).toBe(0);
  }, 150_000);
});
