/**
 * `bpftools target` through the built CLI, and the error → exit code mapping.
 */
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {join} from 'node:path'
import {describe, it} from 'node:test'
import {ExitCode} from '../../src/cli/exit-codes.js'
import {reportError} from '../../src/cli/error-report.js'
import {
  BpfdError,
  PermissionError,
  ProtocolError,
  RemoteSpecError,
  TransportError,
} from '../../src/remote/errors.js'
import {localTransport} from '../../src/remote/transports/local.js'
import {bpfdUnavailable, freePort, MACHINE, REPO} from './bpfd-env.js'

function bpftools(...args: string[]) {
  const result = spawnSync(join(REPO, 'bin', 'bpftools'), args, {cwd: REPO, encoding: 'utf8', timeout: 20_000})
  return {code: result.status, stdout: result.stdout, stderr: result.stderr}
}

describe('bpftools target', {skip: bpfdUnavailable()}, () => {
  it('prints the hello as JSON', () => {
    const {code, stdout, stderr} = bpftools('target', '--json')
    assert.equal(code, 0, stderr)
    const info = JSON.parse(stdout) as Record<string, unknown>
    assert.equal(info.target, 'local')
    assert.equal(info.machine, MACHINE)
    assert.equal(info.proto, 1)
    assert.equal(typeof info.ncpus, 'number')
    assert.equal((info.features as Record<string, unknown>).ringbuf, true)
  })

  it('prints an aligned FIELD VALUE table', () => {
    const {code, stdout, stderr} = bpftools('target', '--remote', 'local')
    assert.equal(code, 0, stderr)
    const lines = stdout.trimEnd().split('\n')
    assert.match(lines[0], /^FIELD +VALUE$/)
    assert.match(stdout, new RegExp(`^machine +${MACHINE}$`, 'm'))
    assert.match(stdout, /^BTF +yes \(\d+\.\d MiB\)$/m)
    const column = lines[0].indexOf('VALUE')
    for (const line of lines) assert.notEqual(line[column - 1], undefined, line)
    assert.ok(lines.every((line) => line[column - 1] === ' ' && line[column] !== ' '), 'values start in one column')
  })

  it('reports round trips with --verbose', () => {
    const {code, stderr} = bpftools('target', '--verbose')
    assert.equal(code, 0, stderr)
    assert.match(stderr, /^bpftools: local: 1 requests in 1 round trips/m)
  })

  it('exits 2 on a malformed --remote and 3 on an unreachable target, with one clear message', async () => {
    const bad = bpftools('target', '--remote', 'bogus:x')
    assert.equal(bad.code, ExitCode.USAGE)
    assert.match(bad.stderr, /^bpftools: invalid remote 'bogus:x': unknown transport 'bogus'\nvalid forms: /)

    const port = await freePort()
    const refused = bpftools('target', '--remote', `tcp:127.0.0.1:${port}`)
    assert.equal(refused.code, ExitCode.UNREACHABLE)
    assert.equal(refused.stderr, `bpftools: tcp:127.0.0.1:${port}: cannot connect: connect ECONNREFUSED 127.0.0.1:${port}\n`)

    const env = {...process.env, BPFTOOLS_REMOTE: 'shell:exit 3'}
    const died = spawnSync(join(REPO, 'bin', 'bpftools'), ['target'], {cwd: REPO, encoding: 'utf8', env})
    assert.equal(died.status, ExitCode.UNREACHABLE)
    assert.equal(died.stderr, 'bpftools: connection to shell:exit 3 closed: shell command exited with code 3\n')
  })
})

describe('error reports', () => {
  it('maps each known error to its exit code and message', () => {
    const cases: [Error, number, RegExp][] = [
      [new BpfdError('map_create', 'EINVAL', 22, 'bpf(BPF_MAP_CREATE): Invalid argument'), ExitCode.FAILURE, /^map_create: bpf\(BPF_MAP_CREATE\): Invalid argument \(EINVAL\)$/],
      [new BpfdError('prog_load', 'EPERM', 1, 'bpf(BPF_PROG_LOAD): Operation not permitted'), ExitCode.PERMISSION, /EPERM/],
      [new RemoteSpecError('x', 'not a known target'), ExitCode.USAGE, /invalid remote 'x'/],
      [new PermissionError('local', 'bpfd needs root'), ExitCode.PERMISSION, /^local: bpfd needs root$/],
      [new TransportError('adb:X', 'connection to adb:X closed: bpfd exited with code 1'), ExitCode.UNREACHABLE, /closed/],
      [new ProtocolError('reply 3: field h is missing', 'h'), ExitCode.PROTOCOL, /field h/],
    ]
    for (const [error, code, message] of cases) {
      const report = reportError(error)
      assert.equal(report?.exitCode, code, error.message)
      assert.match(report.message, message)
    }
    assert.equal(reportError(new Error('bug')), undefined)
  })

  it('shows the end of a verifier log, all of it with --verbose', () => {
    const log = Array.from({length: 100}, (_, i) => `${i}: insn`).join('\n')
    const error = new BpfdError('prog_load', 'EACCES', 13, 'bpf(BPF_PROG_LOAD): Permission denied', log)
    const short = reportError(error)!.message.split('\n')
    assert.equal(short[1], '... (70 earlier lines; --verbose shows all)')
    assert.equal(short.at(-1), '99: insn')
    assert.equal(reportError(error, {verbose: true})!.message.split('\n').length, 101)
  })
})

describe('local transport', () => {
  it('asks for root when not root', async () => {
    const getuid = process.getuid
    const wrapper = process.env.BPFTOOLS_BPFD_WRAPPER
    process.getuid = () => 1000
    delete process.env.BPFTOOLS_BPFD_WRAPPER
    try {
      await assert.rejects(localTransport().open(), (error: unknown) => {
        assert.ok(error instanceof PermissionError || (error instanceof TransportError && /not built/.test(error.message)), String(error))
        if (error instanceof PermissionError) assert.match(error.message, /^local: bpfd needs root .*sudo bpftools/)
        return true
      })
    } finally {
      process.getuid = getuid
      if (wrapper !== undefined) process.env.BPFTOOLS_BPFD_WRAPPER = wrapper
    }
  })
})
