// Which targets a command runs on: every --remote, then every line of
// --remotes-file; with neither, $BPFTOOLS_REMOTE, the config file's default,
// or local (pure: the caller reads the file and the environment).
import {RemoteSpecError} from '../remote/errors.js'
import {parseRemote} from '../remote/transports/parse.js'

/** A mistake in the list of targets: a bad line of --remotes-file, a target named twice. */
export class RemotesError extends Error {
  override readonly name = 'RemotesError'
}

/** A remote and the name its output is labelled with (the transport's name, without a token file). */
export type RemoteTarget = {remote: string; name: string}

/** The remotes of a --remotes-file: one a line; blank lines and lines starting with # are skipped. */
export function parseRemotesFile(text: string, file: string): {remote: string; line: number}[] {
  const out: {remote: string; line: number}[] = []
  text.split('\n').forEach((raw, i) => {
    const remote = raw.trim()
    if (remote === '' || remote.startsWith('#')) return
    try {
      parseRemote(remote)
    } catch (e) {
      if (e instanceof RemoteSpecError) throw new RemotesError(`${file}:${i + 1}: ${e.message}`)
      throw e
    }
    out.push({remote, line: i + 1})
  })
  if (!out.length) throw new RemotesError(`${file}: names no remote (one a line; # starts a comment)`)
  return out
}

export type RemoteSources = {
  /** --remote, in the order given. */
  flags: readonly string[]
  /** --remotes-file's name and text. */
  file?: {name: string; text: string}
  /** $BPFTOOLS_REMOTE, then the config file's "remote": used when neither of the above names one. */
  defaults: readonly (string | undefined)[]
}

/** Every target to run on, in order; a target named twice is refused, naming where. */
export function chooseRemotes(s: RemoteSources): RemoteTarget[] {
  const given: {remote: string; where: string}[] = s.flags.map((remote) => ({remote, where: `--remote ${remote}`}))
  if (s.file) for (const {remote, line} of parseRemotesFile(s.file.text, s.file.name)) given.push({remote, where: `${s.file.name}:${line}`})
  if (!given.length) given.push({remote: s.defaults.find((d) => d !== undefined && d.trim() !== '') ?? 'local', where: 'the default remote'})
  const seen = new Map<string, string>()
  return given.map(({remote, where}) => {
    // parseRemote throws the usual RemoteSpecError for a bad --remote.
    const name = parseRemote(remote).description
    const first = seen.get(name)
    if (first !== undefined) throw new RemotesError(`${where}: ${name} is already a target (${first})`)
    seen.set(name, where)
    return {remote, name}
  })
}
