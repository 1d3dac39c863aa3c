import { describe, expect, it } from 'vitest';
import { answerFacts } from './answer-facts';

describe('answerFacts', () => {
  it('reads id, model and why each API stopped', () => {
    expect(answerFacts({ id: 'msg_1', model: 'claude-x', stop_reason: 'end_turn' })).toEqual({ id: 'msg_1', model: 'claude-x', finishReasons: ['end_turn'] });
    expect(answerFacts({ id: 'c1', model: 'gpt', choices: [{ finish_reason: 'stop' }, { finish_reason: 'length' }, { finish_reason: null }] })).toEqual({
      id: 'c1',
      model: 'gpt',
      finishReasons: ['stop', 'length'],
    });
    expect(answerFacts({ object: 'response', id: 'resp_1', status: 'completed' })).toEqual({ id: 'resp_1', finishReasons: ['completed'] });
    expect(answerFacts({ object: 'response', status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' } }).finishReasons).toEqual(['max_output_tokens']);
    expect(answerFacts({ object: 'response', status: 'in_progress' })).toEqual({});
  });

  it('bounds what the upstream chose: text cut, reasons capped, odd shapes ignored', () => {
    const long = answerFacts({ id: 'x'.repeat(10_000), choices: Array.from({ length: 100 }, () => ({ finish_reason: 'stop' })) });
    expect(long.id).toHaveLength(256);
    expect(long.finishReasons).toHaveLength(16);
    expect(answerFacts({ id: 5, model: '', stop_reason: {} })).toEqual({});
    expect(answerFacts('nope')).toEqual({});
  });
});
