// The one error mapping of the NBD edge.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  DeviceClosedError,
  DisconnectedError,
  MediumError,
  NoSpaceError,
  OutOfRangeError,
  ReadOnlyError,
  UnsupportedError,
} from "../block/errors.js";
import { toNbdErrno } from "./errno.js";
import { Errno } from "./protocol.js";

test("block errors map to NBD errno values", () => {
  const range = new OutOfRangeError("d", 10, 10, 8);
  assert.equal(toNbdErrno(new MediumError("d", "read", 0, 512), "read"), Errno.EIO);
  assert.equal(toNbdErrno(new NoSpaceError("d", "full"), "write"), Errno.ENOSPC);
  assert.equal(toNbdErrno(new ReadOnlyError("d"), "write"), Errno.EPERM);
  assert.equal(toNbdErrno(range, "read"), Errno.EINVAL);
  assert.equal(toNbdErrno(range, "trim"), Errno.EINVAL);
  assert.equal(toNbdErrno(range, "write"), Errno.ENOSPC);
  assert.equal(toNbdErrno(new UnsupportedError("d", "trim"), "trim"), Errno.ENOTSUP);
  assert.equal(toNbdErrno(new DisconnectedError("d", "gone"), "read"), Errno.EIO);
  assert.equal(toNbdErrno(new DeviceClosedError("d"), "read"), Errno.ESHUTDOWN);
});

test("unknown errors become EIO and are logged", () => {
  const logged: unknown[] = [];
  const logger = {
    error: (message: string, fields?: Record<string, unknown>) => logged.push({ message, fields }),
  };
  assert.equal(toNbdErrno(new TypeError("boom"), "write", logger), Errno.EIO);
  assert.equal(toNbdErrno("string thrown", "read", logger), Errno.EIO);
  assert.equal(logged.length, 2);
  assert.match(JSON.stringify(logged[0]), /boom/);
});
