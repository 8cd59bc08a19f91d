// Summarise a V8 .cpuprofile (from `node --cpu-prof`): top functions by self time and the share of
// idle / GC / program time. Run: node dist/bench/profile-summary.js FILE.cpuprofile [TOP]
import { readFileSync } from "node:fs";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
}

/** A function's share of the samples, and of the busy (not idle) samples. */
export interface FrameShare {
  readonly frame: string;
  readonly selfPercent: number;
  readonly busyPercent: number;
}

function frameName(node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame;
  const file = url.replace(/^.*\/(dist|node:internal|lib)\//, "$1/").replace(/^file:\/\//, "");
  return `${functionName || "(anonymous)"} ${file ? `${file}:${lineNumber + 1}` : ""}`.trim();
}

/** Self-time shares of the `top` heaviest frames of a profile. */
export function summariseProfile(profile: CpuProfile, top: number): FrameShare[] {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const counts = new Map<string, number>();
  for (const id of profile.samples) {
    const name = frameName(byId.get(id)!);
    counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  const total = profile.samples.length;
  const busy = total - (counts.get("(idle)") ?? 0);
  return [...counts.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([frame, n]) => ({
      frame,
      selfPercent: (100 * n) / total,
      busyPercent: frame === "(idle)" ? 0 : (100 * n) / busy,
    }));
}

if (process.argv[1]?.endsWith("profile-summary.js")) {
  const file = process.argv[2];
  if (!file) {
    console.error("usage: node dist/bench/profile-summary.js FILE.cpuprofile [TOP]");
    process.exit(2);
  }
  const profile = JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
  console.log("  all%  busy%  frame (self time)");
  for (const { frame, selfPercent, busyPercent } of summariseProfile(
    profile,
    Number(process.argv[3] ?? 25),
  )) {
    console.log(`${selfPercent.toFixed(1).padStart(6)} ${busyPercent.toFixed(1).padStart(6)}  ${frame}`);
  }
}
