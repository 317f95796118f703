/**
 * Search attributes that make incidents findable in the Web UI and with
 * `temporal workflow list --query "AutofixPattern='http_5xx'"`. All Keyword (the dev server's
 * SQLite store allows at most 10 custom Keyword attributes).
 */
import { defineSearchAttributeKey, SearchAttributeType, type SearchAttributePair } from '@temporalio/common';

export const AutofixPattern = defineSearchAttributeKey('AutofixPattern', SearchAttributeType.KEYWORD);
export const AutofixSeverity = defineSearchAttributeKey('AutofixSeverity', SearchAttributeType.KEYWORD);
export const AutofixOutcome = defineSearchAttributeKey('AutofixOutcome', SearchAttributeType.KEYWORD);
export const AutofixHost = defineSearchAttributeKey('AutofixHost', SearchAttributeType.KEYWORD);
export const AutofixTarget = defineSearchAttributeKey('AutofixTarget', SearchAttributeType.KEYWORD);
export const AutofixKind = defineSearchAttributeKey('AutofixKind', SearchAttributeType.KEYWORD);

/** Every custom search attribute, for registration at start (name → Temporal type name). */
export const SEARCH_ATTRIBUTES: Record<string, 'Keyword'> = {
  AutofixPattern: 'Keyword',
  AutofixSeverity: 'Keyword',
  AutofixOutcome: 'Keyword',
  AutofixHost: 'Keyword',
  AutofixTarget: 'Keyword',
  AutofixKind: 'Keyword',
};

/** The search attributes an incident saga starts with (the saga itself keeps them up to date). */
export function incidentSearchAttributes(patternId: string, severity: string | undefined, host: string): SearchAttributePair[] {
  return [
    { key: AutofixKind, value: 'incident' },
    { key: AutofixPattern, value: patternId },
    ...(severity ? [{ key: AutofixSeverity, value: severity }] : []),
    { key: AutofixOutcome, value: 'running' },
    ...(host ? [{ key: AutofixHost, value: host }] : []),
  ];
}
