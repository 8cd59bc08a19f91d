// Test support: a directory whose filesystem accepts O_DIRECT and enforces its alignment (not tmpfs).
// Direct-I/O tests must run there; when no candidate qualifies they fail with this module's message.
import fs from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** statfs f_type of tmpfs and ramfs. */
const MEMORY_FS_TYPES: readonly number[] = [0x01021994, 0x858458f6];

/** Why `dir` cannot host direct-I/O tests, or undefined when it can. */
function unsuitable(dir: string): string | undefined {
  let type: number;
  try {
    type = Number(fs.statfsSync(dir).type);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? String(err);
  }
  if (MEMORY_FS_TYPES.includes(type)) return "tmpfs / ramfs (no real direct I/O)";
  const probe = join(dir, `.dmremap-direct-probe-${process.pid}`);
  let fd: number;
  try {
    fd = fs.openSync(probe, fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_DIRECT, 0o600);
  } catch (err) {
    return `O_DIRECT open failed: ${(err as NodeJS.ErrnoException).code ?? String(err)}`;
  } finally {
    fs.rmSync(probe, { force: true });
  }
  try {
    fs.writeSync(fd, Buffer.alloc(4097).subarray(1), 0, 4096, 0);
    return "an unaligned O_DIRECT write succeeded (alignment not enforced)";
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === "EINVAL" ? undefined : `probe write failed: ${code ?? String(err)}`;
  } finally {
    fs.closeSync(fd);
  }
}

let chosen: Promise<string> | undefined;

/**
 * A fresh directory (under DMREMAP_DIRECT_DIR, the OS temp dir or /var/tmp, first that qualifies)
 * where O_DIRECT works and misaligned direct I/O fails with EINVAL. Throws, naming every candidate.
 */
export function directTestDir(): Promise<string> {
  chosen ??= (async () => {
    const candidates = [process.env.DMREMAP_DIRECT_DIR, tmpdir(), "/var/tmp"].filter(
      (d): d is string => d !== undefined && d !== "",
    );
    const reasons: string[] = [];
    for (const dir of candidates) {
      const why = unsuitable(dir);
      if (why === undefined) return mkdtemp(join(dir, "dmremap-direct-"));
      reasons.push(`${dir}: ${why}`);
    }
    throw new Error(
      `no directory supports O_DIRECT with enforced alignment (${reasons.join("; ")}); ` +
        "set DMREMAP_DIRECT_DIR to a directory on a disk-backed filesystem such as ext4",
    );
  })();
  return chosen;
}
