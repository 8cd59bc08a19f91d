// CLI flags derived from the config schema: every remap-policy key of [target.policy] becomes a
// `serve` flag (--write-retries N, --read-retry-budget 5s ...), validated by the same schema.
import { policyField } from "../daemon/config-schema.js";
import { ConfigError } from "../daemon/errors.js";
import { formatValue } from "../daemon/schema-validate.js";
import { REMAP_POLICY_SCHEMA } from "../remap/remap-policy.js";
import { stringOpt, type CommandContext, type OptionSpec } from "./command.js";
import { UsageError } from "./errors.js";

const POLICY_FIELDS = REMAP_POLICY_SCHEMA.map(policyField);

const flagOf = (key: string) => key.replace(/_/g, "-");

/** One `--KEY VALUE` option per [target.policy] key, with the schema's help and default. */
export function policyOptions(): Record<string, OptionSpec> {
  const out: Record<string, OptionSpec> = {};
  for (const field of POLICY_FIELDS) {
    out[flagOf(field.key)] = {
      type: "string",
      value:
        field.type === "boolean"
          ? "true|false"
          : field.type === "duration"
            ? "DURATION"
            : field.type === "enum"
              ? field.values!.join("|")
              : "N",
      help: `${field.help.replace(/\.$/, "")} (policy)`,
      ...(field.default !== undefined ? { default: String(field.default) } : {}),
    };
  }
  return out;
}

/** The [target.policy] table (raw TOML values) from the policy flags given on the command line. */
export function policyFromFlags(ctx: Pick<CommandContext, "values">): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const field of POLICY_FIELDS) {
    const text = stringOpt(ctx, flagOf(field.key));
    if (text === undefined) continue;
    if (field.type === "boolean") {
      if (text !== "true" && text !== "false") {
        throw new UsageError(`--${flagOf(field.key)} ${formatValue(text)} is not true or false`);
      }
      out[field.key] = text === "true";
    } else if (field.type === "integer") {
      if (!/^-?\d+$/.test(text))
        throw new UsageError(`--${flagOf(field.key)} ${formatValue(text)} is not an integer`);
      out[field.key] = Number(text);
    } else out[field.key] = text;
  }
  return out;
}

/** Rewrite a config error about command-line values so that it names the flags. */
export function flagError(err: unknown): unknown {
  if (!(err instanceof ConfigError)) return err;
  if (!err.issues.every((i) => i.keyPath.startsWith("target[0].policy."))) return err;
  const lines = err.issues.map((issue) => {
    const m = /^target\[0\]\.policy\.([a-z_]+)$/.exec(issue.keyPath);
    return m ? `--${flagOf(m[1]!)}: ${issue.message}` : `${issue.keyPath}: ${issue.message}`;
  });
  return new UsageError(lines.join("\n"));
}
