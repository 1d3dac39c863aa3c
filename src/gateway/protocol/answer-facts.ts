import { isRecord } from '../../core/json';
import type { AnswerFacts } from '../../metrics/request-span';

/** Upstream-chosen text in a trace is cut to this many characters (ids, model names, finish reasons). */
const FACT_MAX = 256;
/** At most this many finish reasons are kept (one per choice). */
const REASONS_MAX = 16;

const text = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value.slice(0, FACT_MAX) : undefined);

/**
 * What an answer (a JSON body, or a stream's event object) says about itself: `id`, `model`, and why
 * it stopped: Anthropic `stop_reason`, Chat Completions `choices[].finish_reason`, Responses `status`
 * with its `incomplete_details.reason`. Empty when it says nothing.
 */
export function answerFacts(answer: unknown): AnswerFacts {
  const facts: AnswerFacts = {};
  if (!isRecord(answer)) return facts;
  const id = text(answer.id);
  if (id !== undefined) facts.id = id;
  const model = text(answer.model);
  if (model !== undefined) facts.model = model;
  const reasons = finishReasons(answer);
  if (reasons.length > 0) facts.finishReasons = reasons;
  return facts;
}

function finishReasons(answer: Record<string, unknown>): string[] {
  const stop = text(answer.stop_reason);
  if (stop !== undefined) return [stop];
  if (Array.isArray(answer.choices)) {
    const reasons: string[] = [];
    for (const choice of answer.choices.slice(0, REASONS_MAX)) {
      const reason = isRecord(choice) ? text(choice.finish_reason) : undefined;
      if (reason !== undefined) reasons.push(reason);
    }
    return reasons;
  }
  if (answer.object === 'response') {
    const incomplete = isRecord(answer.incomplete_details) ? text(answer.incomplete_details.reason) : undefined;
    const status = incomplete ?? (answer.status === 'in_progress' ? undefined : text(answer.status));
    return status === undefined ? [] : [status];
  }
  return [];
}

/** Whether there is anything to tell. */
export function saysAnything(facts: AnswerFacts): boolean {
  return facts.id !== undefined || facts.model !== undefined || facts.finishReasons !== undefined;
}
