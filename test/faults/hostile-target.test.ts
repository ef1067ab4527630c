// A target that answers with tricks: the host never executes anything from a
// reply, never writes outside its cache directory because of a name the
// target chose, and cannot be made to send a second request through a path.
import assert from 'node:assert/strict'
import {spawn, spawnSync} from 'node:child_process'
import {chmodSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join, relative} from 'node:path'
import {after, before, describe, it} from 'node:test'
import {BpfdError} from '../../src/remote/errors.js'
import {BPFD, bpfdUnavailable, connectTo, destroyLeftovers} from '../remote/bpfd-env.js'
import {makeStandIns} from '../remote/standins.js'
import {BPFTOOLS} from '../tools/helpers/programs.js'
import {traced} from './cli.js'

const STACK_TRACE = /\n\s+at \S/

/** Percent-encodes every byte but letters and digits, as a bpfd str. */
const pct = (s: string) => [...Buffer.from(s)].map((b) => (/[A-Za-z0-9]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).padStart(2, '0').toUpperCase()}`)).join('')

/** Every file below `dir`, relative to it. */
function files(dir: string): string[] {
  return readdirSync(dir, {recursive: true, encoding: 'utf8'}).filter((f) => statSync(join(dir, f)).isFile())
}

describe('a hostile target', {skip: bpfdUnavailable()}, () => {
  let dir: string
  let pwned: string

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'bpftools-hostile-'))
    pwned = join(dir, 'pwned')
  })
  after(() => {
    destroyLeftovers()
    rmSync(dir, {recursive: true, force: true})
  })

  it('a path with a newline or a NUL stays one request: no second request, no cut path', async () => {
    const client = await connectTo('local')
    try {
      await assert.rejects(client.readFile('/nonexistent\n99 quit'), (e: unknown) => e instanceof BpfdError && e.errname === 'ENOENT')
      await assert.rejects(client.readFile('/etc/hostname\0/x'), (e: unknown) => e instanceof BpfdError && e.errname === 'EINVAL' && /NUL/.test(e.message))
      // Still the same connection, still serving.
      assert.equal((await client.readFile('/proc/self/comm')).data.toString().trim().slice(0, 4), 'bpfd')
    } finally {
      await client.close()
    }
  })

  it('hello fields with shell syntax and ../ are only ever names: the caches stay inside their directory', () => {
    const release = `6.1.0-../../../escaped$(touch ${pwned})`
    const bootId = `../../boot\`touch ${pwned}\``
    // The first line bpfd writes is its hello reply; the relay rewrites two of
    // its fields (percent-encoded, so the sed script holds no slash or quote).
    const sed = `1s/ release=[^ ]*/ release=${pct(release)}/; 1s/ boot_id=[^ ]*/ boot_id=${pct(bootId)}/`
    const remote = `shell:${BPFD} | sed -u '${sed}'`
    const cache = join(dir, 'cache', 'inner')
    mkdirSync(cache, {recursive: true})
    const env = {...process.env, BPFTOOLS_CACHE_DIR: cache}

    const target = spawnSync(BPFTOOLS, ['target', '--remote', remote], {encoding: 'utf8', env, timeout: 30_000})
    assert.equal(target.status, 0, target.stderr)
    assert.ok(target.stdout.includes(release), target.stdout)

    // stackcount -K caches the target's kallsyms by release and boot id; execsnoop its kernel BTF by release.
    const probe = join(dir, 'probe')
    writeFileSync(probe, '')
    // Opens while stackcount counts, so a quiet machine still gives it stacks to symbolise.
    const opener = spawn('sh', ['-c', `while :; do cat ${probe}; sleep 0.05; done`], {stdio: 'ignore'})
    const stack = (() => {
      try {
        return spawnSync(BPFTOOLS, ['stackcount', '-K', '-D', '2', 't:syscalls:sys_enter_openat', '--remote', remote], {encoding: 'utf8', env, timeout: 60_000})
      } finally {
        opener.kill()
      }
    })()
    assert.equal(stack.status, 0, stack.stderr)
    assert.match(stack.stdout, /^ {2}do_syscall_64$/m)
    const exec = spawnSync(BPFTOOLS, ['execsnoop', '-d', '1', '--remote', remote], {encoding: 'utf8', env, timeout: 60_000})
    assert.equal(exec.status, 0, exec.stderr)
    assert.doesNotMatch(stack.stderr + exec.stderr, STACK_TRACE)

    assert.equal(existsSync(pwned), false, 'a command from the reply ran')
    assert.deepEqual(readdirSync(join(dir, 'cache')), ['inner'], 'nothing written beside the cache directory')
    const cached = files(cache)
    assert.ok(cached.some((f) => f.startsWith('kallsyms/')), cached.join('\n'))
    for (const f of cached) assert.ok(!relative(cache, join(cache, f)).startsWith('..'), f)
    assert.deepEqual(files(dir).filter((f) => !f.startsWith('cache/')), ['probe'])
  })

  it('an ssh host whose uname answers with shell syntax: refused by name, nothing run', () => {
    const s = makeStandIns()
    try {
      writeFileSync(join(s.bin, 'uname'), `#!/bin/sh\necho 'x86_64; touch ${pwned}; $(touch ${pwned})'\n`)
      chmodSync(join(s.bin, 'uname'), 0o755)
      const r = spawnSync(BPFTOOLS, ['target', '--remote', 'ssh:lab1'], {
        encoding: 'utf8',
        timeout: 30_000,
        env: {...process.env, PATH: `${s.bin}:${process.env.PATH}`, STANDIN_LOG: s.log, FAKE_SSH_HOST: 'lab1', FAKE_HOST_TMP: s.hostTmp},
      })
      assert.equal(r.status, 3, r.stderr)
      assert.match(r.stderr, /no bpfd build for architecture 'x86_64; touch .*pwned; \$\(touch .*pwned\)'/)
      assert.doesNotMatch(r.stderr, STACK_TRACE)
      assert.equal(existsSync(pwned), false, 'a command from the reply ran')
      assert.deepEqual(readdirSync(s.hostTmp), [], 'nothing uploaded')
    } finally {
      rmSync(dirname(s.bin), {recursive: true, force: true})
    }
  })

  it('opened file names with shell syntax are printed as they are, never run', async () => {
    // A name cannot hold a slash: were one run, it would touch this name in the tool's working directory.
    const mark = `hostile-${process.pid}`
    const names = [`$(touch ${mark})`, `\`touch ${mark}\``, `;touch ${mark}`].map((n) => join(dir, n))
    for (const f of names) writeFileSync(f, '')
    const r = await traced(['opensnoop', '-p', String(process.pid)], () => {
      for (const f of names) closeSync(openSync(f, 'r'))
    })
    assert.equal(r.code, 0, r.stderr)
    for (const f of names) assert.ok(r.stdout.split('\n').some((l) => l.endsWith(` ${f}`)), `${f} in\n${r.stdout}`)
    assert.equal(existsSync(join(process.cwd(), mark)), false, 'a command from an event ran')
  })
})
