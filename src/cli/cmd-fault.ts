// `dmremap fault list|add|clear [TARGET]`: the fault rules of a running target (test setups), through
// the daemon's control API. Rules are written as in device specs ("dust:block=5,heal") or as JSON.
import { parseFaultRule } from "../block/device-spec.js";
import { SpecError } from "../block/errors.js";
import { faultKinds } from "../block/faults/registry.js";
import { boolOpt, type Command, type CommandContext } from "./command.js";
import { UsageError } from "./errors.js";
import { apiClient, ONLINE_OPTIONS, onlineTarget } from "./online.js";

/** A rule as the daemon lists it. */
interface ListedRule {
  readonly id: number;
  readonly kind: string;
  readonly spec?: string;
  readonly [option: string]: unknown;
}

interface FaultsReply {
  readonly rules: readonly ListedRule[];
  readonly status?: Readonly<Record<string, number>>;
}

const VERBS = ["list", "add", "clear"] as const;
type Verb = (typeof VERBS)[number];

/** A rule argument as the JSON body of POST .../faults; spec text is checked here, JSON by the daemon. */
export function ruleBody(text: string): unknown {
  if (text.trimStart().startsWith("{")) {
    try {
      return JSON.parse(text) as unknown;
    } catch (err) {
      throw new UsageError(`fault rule ${JSON.stringify(text)} is not valid JSON: ${(err as Error).message}`);
    }
  }
  try {
    return parseFaultRule(text);
  } catch (err) {
    if (err instanceof SpecError) throw new UsageError(err.message);
    throw err;
  }
}

/** Split `VERB [TARGET] [RULE...]`: a target name never contains ":", a rule always does. */
function parseArgs(ctx: CommandContext): { verb: Verb; target?: string; rules: string[] } {
  const [verb, ...rest] = ctx.positionals;
  if (!VERBS.includes(verb as Verb)) {
    throw new UsageError(
      `fault needs a verb: ${VERBS.join(", ")} (got ${verb === undefined ? "none" : `"${verb}"`})`,
    );
  }
  const target =
    rest[0] !== undefined && !rest[0].includes(":") && !rest[0].startsWith("{") ? rest.shift() : undefined;
  if (verb === "add" && rest.length === 0)
    throw new UsageError("fault add needs at least one RULE (e.g. dust:block=5)");
  if (verb !== "add" && rest.length > 0)
    throw new UsageError(`fault ${verb} takes no RULE (got "${rest[0]}")`);
  return { verb: verb as Verb, ...(target !== undefined ? { target } : {}), rules: rest };
}

/** The rules and non-zero counters of a target as text. */
export function renderFaults(name: string, reply: FaultsReply): string {
  const lines = [`${name}: ${reply.rules.length} fault rule${reply.rules.length === 1 ? "" : "s"}`];
  for (const rule of reply.rules)
    lines.push(`  ${String(rule.id).padStart(3)}  ${rule.spec ?? JSON.stringify(rule)}`);
  const counters = Object.entries(reply.status ?? {}).filter(([key, n]) => key !== "rules" && n > 0);
  if (counters.length > 0) lines.push(`  injected: ${counters.map(([key, n]) => `${key} ${n}`).join(", ")}`);
  return lines.join("\n") + "\n";
}

export const faultCommand: Command = {
  name: "fault",
  summary: "list, add or clear fault rules of a running target (needs [target.faults] enabled = true)",
  args: "list|add|clear [TARGET] [RULE...]",
  options: {
    ...ONLINE_OPTIONS,
    json: { type: "boolean", help: "list: print the daemon's JSON answer (rules and counters)" },
  },
  details: `TARGET defaults to the daemon's only target. A RULE is written as in a device spec,
KIND:OPTIONS (KIND one of ${faultKinds()
    .map((k) => k.name)
    .join(", ")}; options in docs/DEVICE-SPECS.md),
or as JSON {"kind": ..., options in camelCase}. Rules apply in the order they were added.

examples:
  dmremap fault add lab 'dust:block=5,block=9-12'
  dmremap fault add lab 'slow:block=7,attempts=3' 'random:read=0.01,seed=7'
  dmremap fault add lab '{"kind":"grow","blocks":[100],"perHour":6}'
  dmremap fault list lab --json
  dmremap fault clear lab`,
  async run(ctx) {
    const { verb, target, rules } = parseArgs(ctx);
    const bodies = rules.map(ruleBody);
    const client = apiClient(ctx);
    const name = await onlineTarget(client, target);
    const path = `/v1/targets/${encodeURIComponent(name)}/faults`;
    if (verb === "list") {
      const reply = await client.call<FaultsReply>("GET", path);
      ctx.out.write(boolOpt(ctx, "json") ? JSON.stringify(reply, null, 2) + "\n" : renderFaults(name, reply));
    } else if (verb === "add") {
      for (const body of bodies) {
        const reply = await client.call<FaultsReply>("POST", path, body);
        const added = reply.rules[reply.rules.length - 1];
        ctx.out.write(`${name}: added rule ${added?.id ?? "?"}: ${added?.spec ?? JSON.stringify(body)}\n`);
      }
    } else {
      const before = await client.call<FaultsReply>("GET", path);
      await client.call<FaultsReply>("DELETE", path);
      ctx.out.write(
        `${name}: cleared ${before.rules.length} fault rule${before.rules.length === 1 ? "" : "s"}\n`,
      );
    }
    return 0;
  },
};
