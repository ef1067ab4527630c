// `bpftools --version` also names the bundled bpfd and the protocol it
// speaks, which is what matters when a target runs an older bpfd.
import type {Hook} from '@oclif/core'
import {execFileSync} from 'node:child_process'
import {bpfdPath, hostArch} from '../remote/bpfd-binary.js'
import {PROTOCOL_VERSION} from '../remote/hello.js'

const hook: Hook<'init'> = async function (opts) {
  if (opts.id !== '--version' && opts.id !== '-v') return
  let bpfd = 'bpfd not built (npm run build)'
  try {
    bpfd = execFileSync(bpfdPath(hostArch() ?? 'x86_64'), ['--version'], {encoding: 'utf8', timeout: 5000}).trim()
  } catch {
    // keep the note
  }
  // oclif would print its own version line after the hooks; end here instead.
  process.stdout.write(`${opts.config.userAgent}\n${bpfd} (host protocol ${PROTOCOL_VERSION})\n`)
  process.exit(0)
}

export default hook
