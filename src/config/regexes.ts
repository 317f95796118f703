/**
 * Every regex of a config, checked at load: the schema marks regex fields (`regexString()` in
 * schema.ts, JSON Schema `format: "regex"`), and this module finds them in the parsed config by
 * walking the schema alongside the value — a regex field added to the schema is checked without
 * touching this file. Each one is translated from Python `re` where the meaning is the same
 * (python-regex.ts), compiled, and analysed for catastrophic backtracking (pattern-safety.ts).
 */
import { z } from 'zod';
import { RegExpSyntaxError } from '@eslint-community/regexpp';
import { ConfigError, type ConfigIssue } from './errors';
import { RegexRefusedError, translatePythonRegex } from '../detection/python-regex';
import { checkPatternSafety } from '../detection/pattern-safety';

/** One regex in the parsed config: where it is and the object holding it (and its `flags`). */
export interface RegexField {
  path: Array<string | number>;
  holder: Record<string | number, unknown>;
  key: string | number;
  /** True when the holder has a `flags` field (error_patterns[]): inline flags can move there. */
  hasFlags: boolean;
}

/** A regex that was changed to mean in JavaScript what it meant in Python. */
export interface RegexTranslation {
  path: string;
  from: string;
  to: string;
  flags: string;
  changes: string[];
}

/** What loading the regexes found besides errors. */
export interface RegexReport {
  translations: RegexTranslation[];
  /** Non-fatal remarks, e.g. a ReDoS analysis that did not finish. */
  notes: ConfigIssue[];
}

interface Def {
  type: string;
  innerType?: z.ZodType;
  shape?: Record<string, z.ZodType>;
  element?: z.ZodType;
  valueType?: z.ZodType;
  options?: z.ZodType[];
  out?: z.ZodType;
}
const defOf = (s: z.ZodType): Def => (s as unknown as { _zod: { def: Def } })._zod.def;
const isRegexSchema = (s: z.ZodType): boolean => (z.globalRegistry.get(s) as { format?: unknown } | undefined)?.format === 'regex';
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The regex fields of `value` (already parsed by `schema`), in document order.
 *
 * @example regexFields(configSchema, cfg).map((f) => f.path) // [['error_patterns', 0, 'pattern'], ['managed', 'kill_allow_list', 0], ...]
 */
export function regexFields(schema: z.ZodType, value: unknown): RegexField[] {
  const out: RegexField[] = [];
  const walk = (s: z.ZodType, v: unknown, path: Array<string | number>, holder: Record<string | number, unknown> | undefined): void => {
    if (v === undefined || v === null) return;
    const d = defOf(s);
    if (isRegexSchema(s) && typeof v === 'string' && holder) {
      out.push({ path, holder, key: path[path.length - 1] as string | number, hasFlags: !Array.isArray(holder) && typeof holder.flags === 'string' });
      return;
    }
    if (d.innerType) return walk(d.innerType, v, path, holder); // optional, default, prefault, nullable, …
    if (d.type === 'pipe' && d.out) return walk(d.out, v, path, holder);
    if (d.type === 'object' && d.shape && isObject(v)) {
      for (const [k, sub] of Object.entries(d.shape)) walk(sub, v[k], [...path, k], v);
    } else if (d.type === 'array' && d.element && Array.isArray(v)) {
      v.forEach((item, i) => walk(d.element as z.ZodType, item, [...path, i], v as unknown as Record<number, unknown>));
    } else if (d.type === 'record' && d.valueType && isObject(v)) {
      for (const [k, item] of Object.entries(v)) walk(d.valueType, item, [...path, k], v);
    } else if (d.type === 'union' && d.options) {
      const match = d.options.find((o) => o.safeParse(v).success);
      if (match) walk(match, v, path, holder);
    }
  };
  walk(schema, value, [], undefined);
  return out;
}

/** A regexpp/V8 syntax message without the pattern it quotes (config content is never echoed). */
function syntaxMessage(e: unknown): string {
  const msg = (e as Error).message.replace(/^Invalid regular expression: \/.*\/[a-z]*: /s, '');
  return e instanceof RegExpSyntaxError ? `${msg} (at offset ${e.index})` : msg;
}

/**
 * Translates, compiles and safety-checks every regex of a parsed config in place (a translated
 * regex replaces the original; inline flags move to the `flags` field). Throws `ConfigError`
 * naming `source` and the JSON path of the first bad regex; never quotes the file beyond
 * recheck's attack string.
 */
export function checkConfigRegexes(schema: z.ZodType, cfg: unknown, source: string, formatPath: (p: Array<string | number>) => string): RegexReport {
  const report: RegexReport = { translations: [], notes: [] };
  for (const f of regexFields(schema, cfg)) {
    const where = formatPath(f.path);
    const fail = (message: string): never => {
      throw new ConfigError(source, [{ path: where, message }]);
    };
    const original = f.holder[f.key] as string;
    const flags = f.hasFlags ? (f.holder.flags as string) : '';
    let t: ReturnType<typeof translatePythonRegex>;
    try {
      t = translatePythonRegex(original, flags, { flagsAllowed: f.hasFlags });
    } catch (e) {
      if (e instanceof RegexRefusedError) return fail(`cannot be used as a JavaScript regular expression: ${e.message}`);
      return fail(`not a valid regular expression: ${syntaxMessage(e)}`);
    }
    try {
      new RegExp(t.source, t.flags); // the engine has the last word on syntax
    } catch (e) {
      return fail(`not a valid regular expression: ${syntaxMessage(e)}`);
    }
    const safety = checkPatternSafety(t.source, t.flags);
    if (!safety.safe) {
      fail(`refused: ${safety.reason}${safety.attack ? `; attack string: ${safety.attack}` : ''}. Rewrite it so no part can match the same text in several ways (e.g. a specific class such as [^"]* instead of .*, or a bounded repeat)`);
    }
    if (safety.safe && safety.note) report.notes.push({ path: where, message: safety.note });
    if (t.changes.length > 0) {
      f.holder[f.key] = t.source;
      if (f.hasFlags) f.holder.flags = t.flags;
      report.translations.push({ path: where, from: original, to: t.source, flags: t.flags, changes: t.changes });
    }
  }
  return report;
}
