// The variant for targets without kernel BTF, forced on this machine: no
// CO-RE, the parent pid from the target's /proc, said once on stderr.
import assert from 'node:assert/strict'
import {spawn, spawnSync} from 'node:child_process'
import {join} from 'node:path'
import {test} from 'node:test'
import {REPO, bpfdUnavailable} from '../remote/bpfd-env.js'

test('execsnoop without BTF prints the exact argv and the parent from /proc', {skip: bpfdUnavailable()}, async () => {
  const tool = spawn(join(REPO, 'bin', 'bpftools'), ['execsnoop', '-d', '15'], {
    env: {...process.env, BPFTOOLS_ASSUME_NO_BTF: '1'},
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  let err = ''
  tool.stderr.on('data', (d: Buffer) => (err += d))
  const marker = `1.${process.pid}`
  try {
    await new Promise<void>((resolve, reject) => {
      tool.stdout.on('data', (d: Buffer) => {
        out += d
        if (out.includes('ARGS\n')) resolve()
      })
      tool.once('exit', () => reject(new Error(`execsnoop ended early: ${err}`)))
    })
    // A process that lives a moment, so its /proc entry can still be read.
    const r = spawnSync('/bin/sleep', [marker, '0'], {timeout: 5000})
    assert.equal(r.status, 0)
    const deadline = Date.now() + 10_000
    while (!out.includes(marker) && Date.now() < deadline) await new Promise((res) => setTimeout(res, 50))
    const line = out.split('\n').find((l) => l.includes(marker))
    assert.ok(line, `no line for the workload:\n${out}\n${err}`)
    const [comm, pid, ppid, ret, ...args] = line.trim().split(/\s+/)
    assert.equal(comm, 'sleep')
    assert.ok(Number(pid) > 0)
    assert.equal(Number(ppid), process.pid, line)
    assert.equal(ret, '0')
    assert.deepEqual(args, ['/bin/sleep', marker, '0'])
    assert.equal(err.match(/has no kernel BTF/g)?.length, 1, err)
  } finally {
    tool.kill('SIGINT')
  }
})
