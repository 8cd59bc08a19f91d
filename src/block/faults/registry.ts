// The fault-kind registry: the one list of kinds. Spec grammar, config tables, HTTP validation and the
// docs tables are derived from it. Adding a kind: one new file in this folder and one line below.
import { delay } from "./delay.js";
import { dust } from "./dust.js";
import type { FaultKind, OptionsSchema } from "./fault-kind.js";
import { flakey } from "./flakey.js";
import { grow } from "./grow.js";
import { random } from "./random.js";
import { slow } from "./slow.js";

const BUILT_IN: readonly FaultKind<OptionsSchema>[] = [dust, flakey, random, delay, grow, slow];

/** Names a fault kind may not take: the spec's other wrappers. */
const RESERVED = ["slice", "fault"];

const kinds = new Map<string, FaultKind>();

/** Add a kind (built-ins at load; tests and extensions later). Throws on a taken or malformed name. */
export function registerFaultKind(kind: FaultKind<OptionsSchema>): void {
  if (!/^[a-z][a-z0-9-]*$/.test(kind.name) || RESERVED.includes(kind.name) || kinds.has(kind.name)) {
    throw new RangeError(`fault kind name "${kind.name}" is malformed or already taken`);
  }
  kinds.set(kind.name, kind);
}

for (const kind of BUILT_IN) registerFaultKind(kind);

/** Every registered kind, in registration order (the order of docs and config tables). */
export function faultKinds(): readonly FaultKind[] {
  return [...kinds.values()];
}

/** The kind named `name`, if registered. */
export function findFaultKind(name: string): FaultKind | undefined {
  return kinds.get(name);
}
