// A cheap textual scan of #include lines, so the cache key changes when any
// header the program's own files include changes.

import {createHash} from 'node:crypto';
import {readFileSync, statSync} from 'node:fs';
import {dirname, isAbsolute, join, resolve} from 'node:path';

const INCLUDE = /^[ \t]*#[ \t]*include[ \t]*([<"])([^>"\n]+)[>"]/gm;

export interface IncludeScan {
  /** One line per header: local headers by content hash, system headers by size and mtime. */
  entries: string[];
  /** Local header files found (absolute paths). */
  localFiles: string[];
}

function statKey(path: string): string | undefined {
  try {
    const st = statSync(path);
    return st.isFile() ? `${st.size}:${Math.trunc(st.mtimeMs)}` : undefined;
  } catch {
    return undefined;
  }
}

function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/**
 * Follows `#include "..."` (relative to the including file, then the
 * include dirs) and `#include <...>` found in the include dirs, recursively.
 * Headers found in system directories are recorded by size and mtime and not
 * followed.
 */
export function scanIncludes(source: Buffer, sourceDir: string, includeDirs: readonly string[], systemDirs: readonly string[]): IncludeScan {
  const entries: string[] = [];
  const localFiles: string[] = [];
  const visited = new Set<string>();
  const userDirs = includeDirs.map((d) => resolve(d));

  const visit = (text: string, dir: string) => {
    for (const m of text.matchAll(INCLUDE)) {
      const quoted = m[1] === '"';
      const name = m[2]!.trim();
      const localDirs = isAbsolute(name) ? [''] : quoted ? [dir, ...userDirs] : userDirs;
      let found: string | undefined;
      for (const d of localDirs) {
        const p = d ? join(d, name) : name;
        if (statKey(p)) {
          found = resolve(p);
          break;
        }
      }
      if (found) {
        if (visited.has(found)) continue;
        visited.add(found);
        let content: Buffer;
        try {
          content = readFileSync(found);
        } catch {
          entries.push(`unreadable ${name}`);
          continue;
        }
        entries.push(`local ${name} ${found} ${sha256(content)}`);
        localFiles.push(found);
        visit(content.toString('latin1'), dirname(found));
        continue;
      }
      let sys: string | undefined;
      for (const d of systemDirs) {
        const k = statKey(join(d, name));
        if (k) {
          sys = `system ${name} ${join(d, name)} ${k}`;
          break;
        }
      }
      const key = sys ?? `missing ${name}`;
      if (!visited.has(key)) {
        visited.add(key);
        entries.push(key);
      }
    }
  };
  visit(source.toString('latin1'), sourceDir);
  return {entries, localFiles};
}
