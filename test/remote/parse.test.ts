import assert from 'node:assert/strict'
import {execFileSync} from 'node:child_process'
import {describe, it, test} from 'node:test'
import {RemoteSpecError} from '../../src/remote/errors.js'
import {parseRemote} from '../../src/remote/transports/parse.js'

describe('parseRemote', () => {
  it('names each valid form', () => {
    const cases: [string, string][] = [
      ['local', 'local'],
      ['', 'local'],
      ['shell:exec bpfd', 'shell:exec bpfd'],
      ['ssh:pi@raspberry', 'ssh:pi@raspberry'],
      ['ssh:host', 'ssh:host'],
      ['adb:', 'adb'],
      ['adb', 'adb'],
      ['adb:R58M123', 'adb:R58M123'],
      ['tcp:127.0.0.1:5555', 'tcp:127.0.0.1:5555'],
      ['tcp:[::1]:5555', 'tcp:[::1]:5555'],
      ['tcp:box:5555?token=/etc/bpfd.token', 'tcp:box:5555'],
      ['unix:/run/bpfd.sock', 'unix:/run/bpfd.sock'],
      ['unix:/run/bpfd.sock?token=t', 'unix:/run/bpfd.sock'],
    ]
    for (const [spec, description] of cases) assert.equal(parseRemote(spec).description, description, spec)
  })

  it('rejects malformed forms with the valid ones listed', () => {
    const bad: [string, RegExp][] = [
      ['bogus', /not a known target/],
      ['http://x', /unknown transport 'http'/],
      ['shell:', /shell: needs a command/],
      ['ssh:', /ssh: needs a host/],
      ['ssh:-oProxyCommand=x', /host '-oProxyCommand=x' is not valid/],
      ['adb:-d', /serial '-d' is not valid/],
      ['tcp:host', /expected tcp:HOST:PORT/],
      ['tcp:host:0', /port 0 is out of range/],
      ['tcp:host:99999', /out of range/],
      ['tcp:host:5555?key=x', /unknown parameter 'key'/],
      ['tcp:host:5555?token=', /token= needs a file name/],
      ['unix:', /unix: needs a socket path/],
    ]
    for (const [spec, reason] of bad) {
      assert.throws(
        () => parseRemote(spec),
        (error: unknown) =>
          error instanceof RemoteSpecError && reason.test(error.message) && /valid forms: local, shell:CMD, ssh:/.test(error.message),
        spec,
      )
    }
  })
})

test('local runs this machine\'s bpfd whatever --arch says', {skip: process.getuid?.() !== 0 ? 'needs root' : undefined}, async () => {
  const {Client} = await import('../../src/remote/client.js')
  const client = await Client.connect(parseRemote('local'), {arch: 'aarch64'})
  try {
    assert.equal(client.hello.machine, execFileSync('uname', ['-m'], {encoding: 'utf8'}).trim())
  } finally {
    await client.close()
  }
})
