// Table-driven test over the whole error vocabulary: for every ErrorCode, an instance a user can cause
// maps to its own code and a 4xx HTTP status (5xx only for the documented storage/host conditions),
// a CLI exit code of 1-2 (3: daemon unreachable), and an NBD errno. Iterates ERROR_CODES, so a new
// code fails here until it has a sample and a place in every boundary table.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import {
  DeviceClosedError,
  DeviceInUseError,
  DisconnectedError,
  MediumError,
  NoSpaceError,
  OpenError,
  OverlapError,
  ReadOnlyError,
  RemoteError,
  SignatureFoundError,
  SpecError,
  UnsupportedError,
} from "../block/errors.js";
import { DmremapError, ERROR_CODES, isErrorCode, type ErrorCode } from "../core/errors.js";
import {
  AlertDeliveryError,
  AlreadyStartedError,
  BadRequestError,
  BatchFailedError,
  ConfigError,
  ForbiddenError,
  HttpError,
  ListenAddressError,
  LockError,
  MethodNotAllowedError,
  NotFoundError,
  PayloadTooLargeError,
  ShutdownIncompleteError,
  UnauthorizedError,
  UnsupportedMediaTypeError,
} from "../daemon/errors.js";
import { HTTP_STATUS_OF, problemFromError } from "../daemon/http-problem.js";
import { SetBusyError } from "../daemon/set-lock.js";
import { FormatSyntaxError, ProbeError } from "../formats/errors.js";
import { HealthStateFileError, ScanStateError, SmartError } from "../health/errors.js";
import {
  ForeignSpareError,
  InvalidRecordError,
  MainMismatchError,
  MetadataCapacityError,
  MetadataClosedError,
  MetadataWriteError,
  NoValidMetadataError,
  UpgradeError,
  SpareInUseError,
  SpareTooSmallError,
  UnknownSpareError,
} from "../metadata/errors.js";
import { NBD_ERRNO_OF, toNbdErrno } from "../nbd/errno.js";
import { NbdOptionError, NbdProtocolError } from "../nbd/errors.js";
import { Errno } from "../nbd/protocol.js";
import { ConnectionClosedError } from "../nbd/socket-io.js";
import { BlockRangeError, BlockStateError } from "../remap/errors.js";
import {
  AddressInUseError,
  ApiProblemError,
  DaemonUnreachableError,
  describeCliError,
  EXIT_CODE_OF,
  EXIT_UNREACHABLE,
  EXIT_USAGE,
  UsageError,
} from "./errors.js";

/** One instance per code, of the kind a user (or the user's disk) can cause. */
const SAMPLE: Record<ErrorCode, () => DmremapError> = {
  EMEDIUM: () => new MediumError("disk0", "read", 4096, 4096),
  ERANGE: () => new BlockRangeError("disk0", 5000, 1024),
  ECLOSED: () => new DeviceClosedError("disk0"),
  EROFS: () => new ReadOnlyError("disk0", "metadata append failed"),
  ENOTSUP: () => new UnsupportedError("disk0", "trim"),
  ENOSPC: () => new NoSpaceError("disk0", "no spare slot left (8 used)"),
  EINVAL: () => new SpecError("file:", 'device spec "file:": missing path'),
  EOPEN: () => new OpenError("file:/nope", "file:/nope: no such file"),
  EDISCONNECTED: () => new DisconnectedError("nbd://h/x", "unreachable for 30 s"),
  EREMOTE: () => new RemoteError("nbd://h/x", "ENOMEM", "nbd://h/x: server answered ENOMEM to read at 0"),
  EOVERLAP: () => new OverlapError("file:/a", "file:/a", "main and spare 0 are the same file /a"),
  EINUSE: () => new DeviceInUseError("/dev/sdb", "/dev/sdb is mounted"),
  ESIGNATURE: () => new SignatureFoundError("/dev/sdb", "ext4", "/dev/sdb holds an ext4 filesystem"),
  EBLOCKSTATE: () => new BlockStateError("disk0", 7, "is not remapped"),
  EMETAWRITE: () => new MetadataWriteError('set "disk0": no writable metadata copy'),
  EMETACLOSED: () => new MetadataClosedError("disk0"),
  EMETAFULL: () => new MetadataCapacityError("3 pending blocks exceed the capacity of 2"),
  EMETARECORD: () => new InvalidRecordError("remap record: slot 99 does not exist (0..7)"),
  ESPAREINUSE: () => new SpareInUseError("file:/s", "file:/s already holds dmremap metadata"),
  ESPARESMALL: () => new SpareTooSmallError("file:/s", "file:/s is too small"),
  EFOREIGN: () => new ForeignSpareError("file:/s", "a", "b", "file:/s belongs to another set"),
  EUNKNOWNSPARE: () => new UnknownSpareError("file:/s", "file:/s is not a member of the set"),
  EMAINMISMATCH: () => new MainMismatchError("file:/m", "file:/m is not the main device of the set"),
  ENOMETA: () => new NoValidMetadataError("no valid metadata on any spare"),
  EUPGRADE: () => new UpgradeError("no free slot to move block 7 out of the format 2 tail area"),
  EPROTO: () => new NbdProtocolError("bad magic 0x1234"),
  EOPTION: () => new NbdOptionError(7, 0x80000006, "export x is unknown"),
  ECONNCLOSED: () => new ConnectionClosedError("peer went away"),
  ECONFIG: () => new ConfigError("/etc/dmremap.toml", [{ keyPath: "target[0].name", message: "missing" }]),
  ELISTEN: () => new ListenAddressError("tcp:x", 'listen address "tcp:x" has no port'),
  ELOCK: () => new LockError("/run/dmremap/locks/x", "could not take the lock /run/dmremap/locks/x"),
  EBUSY: () => new SetBusyError("disk0", 4242, "dmremap serve"),
  ESTARTED: () => new AlreadyStartedError("API server"),
  ESHUTDOWN: () => new ShutdownIncompleteError(["nbd: 2 connections still open"]),
  EALERT: () => new AlertDeliveryError("webhook http://127.0.0.1:9", "HTTP 500"),
  EBATCH: () => new BatchFailedError("unremap", 7, [3], new BlockStateError("disk0", 7, "is not remapped")),
  EBADREQUEST: () => new BadRequestError('"blocks" must be an array'),
  ENOTFOUND: () => new NotFoundError('no target "disk9"'),
  EMETHOD: () => new MethodNotAllowedError("PUT", "/v1/targets", ["GET"]),
  EUNAUTHORIZED: () => new UnauthorizedError("a bearer token is required"),
  EFORBIDDEN: () => new ForbiddenError("wrong token"),
  ETOOLARGE: () => new PayloadTooLargeError(1 << 20),
  EMEDIATYPE: () => new UnsupportedMediaTypeError("text/plain"),
  EFORMAT: () => new FormatSyntaxError("ddrescue mapfile", 3, 'status "Q" is not one of ?*/-+'),
  EPROBE: () => new ProbeError("debugfs", "exited with status 1"),
  EUSAGE: () => new UsageError('unknown option "--sparse"'),
  EUNREACHABLE: () => new DaemonUnreachableError("unix:/run/dmremap/api.sock", new Error("ENOENT")),
  EAPI: () => new ApiProblemError(409, { detail: "block 7: is not remapped", code: "EBLOCKSTATE" }),
  EADDRINUSE: () => new AddressInUseError("tcp:127.0.0.1:10809", "nbd"),
  ESCANSTATE: () => new ScanStateError("disk0", "pause", "idle"),
  EHEALTHSTATE: () => new HealthStateFileError("/var/lib/dmremap/disk0.scan", "not JSON"),
  ESMART: () => new SmartError("/dev/sdb", "smartctl is not installed"),
};

/**
 * The only codes answered with 5xx, and why: none of them is fixed by changing the request.
 * 501: the device cannot do it; 502: a device, server, tool or alert sink below failed; 503: the target or
 * host is not in a state to serve (closed, shutting down, metadata unwritable, lock folder unusable); 507: no
 * spare or metadata space left (add a spare).
 */
const SERVER_SIDE: Partial<Record<ErrorCode, number>> = {
  EMEDIUM: 502,
  ECLOSED: 503,
  ENOTSUP: 501,
  ENOSPC: 507,
  EDISCONNECTED: 502,
  EREMOTE: 502,
  EMETAWRITE: 503,
  EMETACLOSED: 503,
  EMETAFULL: 507,
  EPROTO: 502,
  EOPTION: 502,
  ECONNCLOSED: 502,
  ELOCK: 503,
  ESHUTDOWN: 503,
  EALERT: 502,
  EPROBE: 502,
  EUNREACHABLE: 502,
  EAPI: 502,
  EHEALTHSTATE: 503,
  ESMART: 502,
};

/** Class names that are bases, not conditions: a code must have its own class. */
const BASE_CLASSES = new Set([
  "DmremapError",
  "BlockError",
  "MetadataError",
  "NbdError",
  "DaemonError",
  "HttpError",
  "CliError",
  "HealthError",
]);

const ERRNO_VALUES = new Set<number>(Object.values(Errno).filter((v) => v !== Errno.OK));

describe("error boundaries over the whole ErrorCode union", () => {
  it("ERROR_CODES is a closed list of distinct E-codes", () => {
    assert.equal(new Set(ERROR_CODES).size, ERROR_CODES.length);
    for (const code of ERROR_CODES) assert.match(code, /^E[A-Z]+$/);
    assert.ok(isErrorCode("EMEDIUM"));
    assert.ok(!isErrorCode("EINTERNAL"));
    assert.deepEqual(Object.keys(SAMPLE).sort(), [...ERROR_CODES].sort());
  });

  for (const code of ERROR_CODES) {
    it(`${code}: own class, HTTP status, exit code and NBD errno`, () => {
      const err = SAMPLE[code]();
      assert.equal(err.code, code);
      assert.ok(err instanceof DmremapError);
      assert.ok(!BASE_CLASSES.has(err.name), `${code} is raised by its own class, not ${err.name}`);
      assert.equal(err.name, err.constructor.name);

      const { problem, known } = problemFromError(err, "/v1/x");
      assert.equal(known, true);
      assert.equal(problem.code, err instanceof BatchFailedError ? "EBLOCKSTATE" : code);
      assert.equal(problem.type, `https://dmremap.dev/problems/${problem.code.slice(1).toLowerCase()}`);
      assert.ok(problem.detail.length > 0);
      const internal = SERVER_SIDE[code];
      if (internal !== undefined)
        assert.equal(problem.status, internal, `${code} is a documented ${internal}`);
      else assert.ok(problem.status >= 400 && problem.status < 500, `${code} answers ${problem.status}`);
      assert.notEqual(problem.status, 500, "500 is kept for unknown errors");
      if (err instanceof HttpError)
        assert.equal(err.status, HTTP_STATUS_OF[code].status, "class and table agree");

      const cli = describeCliError(err);
      assert.equal(cli.known, true);
      assert.equal(cli.message, err.message);
      assert.equal(cli.exitCode, EXIT_CODE_OF[code]);
      if (code === "EUSAGE") assert.equal(cli.exitCode, EXIT_USAGE);
      else if (code === "EUNREACHABLE") assert.equal(cli.exitCode, EXIT_UNREACHABLE);
      else assert.equal(cli.exitCode, 1);

      const logged: string[] = [];
      const errno = toNbdErrno(err, "read", { error: (m) => logged.push(m) });
      assert.ok(ERRNO_VALUES.has(errno), `errno ${errno}`);
      assert.equal(logged.length, NBD_ERRNO_OF[code] === null ? 1 : 0, "only non-data-path codes are logged");
    });
  }

  it("a batch failure answers with the status and code of the block that failed", () => {
    const { problem } = problemFromError(SAMPLE.EBATCH(), "/v1/targets/disk0/unremap");
    assert.deepEqual(
      [problem.status, problem.code, problem.failedBlock, problem.completed],
      [409, "EBLOCKSTATE", 7, [3]],
    );
    assert.match(
      problem.detail,
      /unremap of block 7 failed after 1 block\(s\) succeeded: disk0: block 7: is not remapped/,
    );
  });

  it("unknown errors become 500 EINTERNAL, exit 1 and EIO, and are flagged for logging", () => {
    for (const err of [
      new TypeError("x is undefined"),
      "thrown string",
      Object.assign(new Error("e"), { code: "EMEDIUM" }),
    ]) {
      const { problem, known } = problemFromError(err, "/v1/x");
      assert.deepEqual([problem.status, problem.code, known], [500, "EINTERNAL", false]);
      assert.deepEqual([describeCliError(err).exitCode, describeCliError(err).known], [1, false]);
      const logged: string[] = [];
      assert.equal(toNbdErrno(err, "write", { error: (m) => logged.push(m) }), Errno.EIO);
      assert.equal(logged.length, 1);
    }
  });

  it("node parseArgs errors are usage errors (exit 2)", () => {
    const err = Object.assign(new TypeError("Unknown option '--x'"), {
      code: "ERR_PARSE_ARGS_UNKNOWN_OPTION",
    });
    assert.deepEqual(describeCliError(err), { exitCode: 2, message: "Unknown option '--x'", known: true });
  });

  it("no source constructs a base class or fakes a code on a plain Error", () => {
    const root = fileURLToPath(new URL("../../../", import.meta.url));
    const files = (dir: string): string[] =>
      readdirSync(join(root, dir), { withFileTypes: true }).flatMap((e) =>
        e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : [],
      );
    const base = [...BASE_CLASSES].join("|");
    const bad = new RegExp(
      `new (${base})\\(|Object\\.assign\\(new \\w*Error\\(.*code: "E[A-Z]+"|readonly code = "E`,
    );
    const offenders = ["src", "test", "bench"]
      .flatMap(files)
      .filter((f) => f !== join("src", "cli", "error-boundaries.test.ts"))
      .filter((f) => bad.test(readFileSync(join(root, f), "utf8")));
    assert.deepEqual(offenders, [], "raise a condition's own class (one per code)");
  });

  it("an out-of-range write is ENOSPC, any other out-of-range request EINVAL", () => {
    const err = SAMPLE.ERANGE();
    assert.equal(toNbdErrno(err, "write"), Errno.ENOSPC);
    assert.equal(toNbdErrno(err, "zero"), Errno.ENOSPC);
    assert.equal(toNbdErrno(err, "read"), Errno.EINVAL);
    assert.equal(toNbdErrno(err, "trim"), Errno.EINVAL);
  });
});
