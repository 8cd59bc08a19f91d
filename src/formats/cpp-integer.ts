// Non-negative integers written as C++ integer constants (what ddrescue's mapfile reader accepts):
// decimal, hexadecimal with 0x / 0X, octal with a leading 0.

/** Why `token` is not a non-negative C++ integer constant that fits a safe integer, or its value. */
export function parseCppInteger(token: string): { value: number } | { problem: string } {
  let digits: string;
  let radix: 8 | 10 | 16;
  if (/^0[xX][0-9a-fA-F]+$/.test(token)) {
    digits = token.slice(2);
    radix = 16;
  } else if (/^0[0-7]*$/.test(token)) {
    digits = token.length > 1 ? token.slice(1) : "0";
    radix = 8;
  } else if (/^[1-9][0-9]*$/.test(token)) {
    digits = token;
    radix = 10;
  } else if (/^0[0-9]+$/.test(token)) {
    return { problem: `"${token}" is not an octal number (a leading 0 means octal, digits 0-7)` };
  } else {
    return { problem: `"${token}" is not a non-negative integer (decimal, 0x hex or 0 octal)` };
  }
  let big = 0n;
  for (const d of digits) big = big * BigInt(radix) + BigInt(parseInt(d, radix));
  if (big > BigInt(Number.MAX_SAFE_INTEGER)) {
    return { problem: `"${token}" is larger than ${Number.MAX_SAFE_INTEGER} bytes` };
  }
  return { value: Number(big) };
}

/** `value` as ddrescue writes it: 0x, upper-case hex, at least 8 digits. */
export function formatHex(value: number): string {
  return "0x" + value.toString(16).toUpperCase().padStart(8, "0");
}
