import { load } from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { renderYamlReport, toYaml } from './yaml';

describe(toYaml.name, () => {
  it('round-trips through a YAML parser, keys with colons, slashes and spaces included', () => {
    const doc = {
      summary: { last_accessed: { top: '2026-11-23T10:15:02Z' }, total_requests: 3, average_duration_ms: 12, ratio: 0.25 },
      providers: {
        openrouter: {
          last_accessed: null,
          models: {
            'anthropic/claude-3-5-sonnet:context-flash': { total: { requests: 1 } },
            'kwaipilot/kat-coder-pro:free': { total: { requests: 2 } },
            'name with "quotes" and: colon': { total: { requests: 0 } },
            null: { total: {} },
            '123': { x: true, y: false },
          },
        },
        empty: {},
      },
      message: 'multi\nline "text" # not a comment',
    };
    expect(load(toYaml(doc))).toEqual(doc);
  });

  it('quotes every key a YAML 1.1 parser would not read back as that string: booleans, null, numbers, indicators', () => {
    const names = ['yes', 'no', 'on', 'off', 'y', 'n', 'Yes', 'NO', 'On', 'OFF', 'True', 'false', 'null', 'Null', '~', '123', '0x1F', '1e3', '.inf', '-1', '12:30', '2026-11-23',
      'a: b', 'a #b', '#x', '-x', '? x', '<<', '=', '', ' lead', 'trail ', '[x]', '{x}', '*x', '&x', '!x', '|x', '>x', "'x", '"x', '%x', '@x', '`x'];
    const doc = Object.fromEntries(names.map((name, i) => [name, { requests: i }]));
    const text = toYaml(doc);
    const keys = text.split('\n').filter((line) => /^\S/.test(line));
    expect(keys).toHaveLength(names.length);
    for (const line of keys) expect(line, line).toMatch(/^"/);
    expect(load(text)).toEqual(doc);
  });

  it('leaves plain names bare: letters, digits, _, ., / and -', () => {
    expect(toYaml({ 'gpt-4.1': 1, 'anthropic/claude-3-5-sonnet': 2, yesterday: 3, _x: 4, online: 5 })).toBe(
      'gpt-4.1: 1\nanthropic/claude-3-5-sonnet: 2\nyesterday: 3\n_x: 4\nonline: 5\n',
    );
  });

  it('writes small costs in exponent form with a dot, which YAML 1.1 parsers read as floats too', () => {
    expect(toYaml({ cost_usd: 1e-7, big: 1e21, plain: 0.000123 })).toBe('cost_usd: 1.0e-7\nbig: 1.0e+21\nplain: 0.000123\n');
    expect(load(toYaml({ cost_usd: 1e-7 }))).toEqual({ cost_usd: 1e-7 });
  });

  it('keeps ISO timestamps as strings, as the contract shows them', () => {
    expect(toYaml({ top: '2026-11-23T10:15:02Z' })).toBe('top: "2026-11-23T10:15:02Z"\n');
    expect(load(toYaml({ top: '2026-11-23T10:15:02Z' }))).toEqual({ top: '2026-11-23T10:15:02Z' });
  });

  it('writes an empty map as {}', () => {
    expect(toYaml({ providers: {} })).toBe('providers: {}\n');
  });
});

describe(renderYamlReport.name, () => {
  it('puts the title, the generation time and the filter in comments above the document', () => {
    const text = renderYamlReport('Running Totals Report', { a: 1 }, 1_795_000_000, 'provider=open*');
    expect(text).toBe('# Running Totals Report\n# Generated: 2026-11-18T11:06:40Z\n# Filter: provider=open*\na: 1\n');
    expect(load(text)).toEqual({ a: 1 });
  });
});
