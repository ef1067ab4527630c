// Defaults a user sets once: a JSON file in the user's config directory,
// below environment variables and flags in precedence.
import {readFileSync} from 'node:fs'
import {homedir} from 'node:os'
import {join} from 'node:path'

export type UserConfig = {
  /** Default --remote. */
  remote?: string
  /** Where compiled objects, kernel BTF and symbols are cached. */
  cacheDir?: string
}

export function configPath(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME || join(env.HOME || homedir(), '.config')
  return join(base, 'bpftools', 'config.json')
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError'
}

/** The user's config; {} when there is none. A file that is not valid JSON is an error, not silently ignored. */
export function readUserConfig(env: NodeJS.ProcessEnv = process.env): UserConfig {
  const path = configPath(env)
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch {
    return {}
  }
  let data: unknown
  try {
    data = JSON.parse(text)
  } catch (e) {
    throw new ConfigError(`${path}: not valid JSON: ${(e as Error).message}`)
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new ConfigError(`${path}: expected a JSON object`)
  const out: UserConfig = {}
  for (const [key, value] of Object.entries(data)) {
    if (key !== 'remote' && key !== 'cacheDir') throw new ConfigError(`${path}: unknown setting '${key}' (known: remote, cacheDir)`)
    if (typeof value !== 'string') throw new ConfigError(`${path}: '${key}' must be a string`)
    out[key] = value
  }
  return out
}
