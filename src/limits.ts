import { maxAliasesRule } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthRule } from '@escape.tech/graphql-armor-max-depth';
import type { ValidationRule } from 'graphql';

export interface RequestLimits {
  maxDepth: number;
  maxComplexity: number;
  maxAliases: number;
}

/**
 * Depth and alias limits, checked with the rest of validation: before any resolver runs.
 * The depth rule (graphql-armor) walks each fragment once, so its time is linear in the
 * document whatever the spreads; they run only after Apollo's recursive-selections limit
 * has passed (see createApollo).
 */
export function limitRules(limits: RequestLimits): ValidationRule[] {
  // Reported as validation errors; thrown, Apollo would answer them as internal ones.
  const report = { propagateOnRejection: false, onReject: [(ctx: { reportError(e: unknown): void } | null, err: unknown) => ctx?.reportError(err)] };
  const aliases = maxAliasesRule({ n: limits.maxAliases, ...report } as never) as ValidationRule;
  const depth = maxDepthRule({ n: limits.maxDepth, ...report } as never) as ValidationRule;
  return [depth, aliases];
}
