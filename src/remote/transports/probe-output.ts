/**
 * Parsing what the probe commands print on a target (pure).
 */

/** Lines of command output, each trimmed (adb on old devices adds `\r`: it runs commands in a pty). */
export function outputLines(text: string): string[] {
  return text
    .split('\n')
    .map((line) => line.replace(/\r$/, '').trim())
}

/** `HASH  PATH` lines of sha256sum output, as path → hash. Other lines are ignored. */
export function parseSha256sum(lines: readonly string[]): Map<string, string> {
  const hashes = new Map<string, string>()
  for (const line of lines) {
    const m = /^([0-9a-f]{64})\s+\*?(\S.*)$/.exec(line)
    if (m) hashes.set(m[2], m[1])
  }
  return hashes
}
