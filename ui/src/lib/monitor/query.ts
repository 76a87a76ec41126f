//! A jq query the engine refused, as the filter bar shows it: which field, where, and why.

import type { QueryError } from '../backend';

/** A refusal, with the expression it was about (the engine's error does not repeat it). */
export interface RefusedQuery extends QueryError {
  expression: string;
}

export interface QueryErrorText {
  field: QueryError['field'];
  /** `Filter, column 26:` */
  title: string;
  message: string;
  expression: string;
  /** Spaces before the caret under `expression`; null when the error has no column. */
  caret: number | null;
}

export function describeQueryError(e: RefusedQuery): QueryErrorText {
  const field = e.field === 'map' ? 'Map' : 'Filter';
  // The engine's text starts with where; the title says it once, in the field's name.
  const message = e.message.replace(/^jq expression, column \d+: /, '');
  const chars = [...e.expression].length;
  const caret = e.column != null && e.column >= 1 && e.column <= chars + 1 ? e.column - 1 : null;
  return {
    field: e.field,
    title: e.column != null ? `${field}, column ${e.column}:` : `${field}:`,
    message: message.endsWith('.') ? message : `${message}.`,
    expression: e.expression,
    caret,
  };
}
