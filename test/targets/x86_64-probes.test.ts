/**
 * Kernel and user probes on the x86_64 guest through the real CLI: stackcount
 * on a kprobe and on a wildcard of kprobes, a kretprobe from `bpftools run`
 * counting into a map, and a uprobe on a static test binary pushed into the
 * guest through the ctl port.
 */
import assert from 'node:assert/strict'
import {execFileSync} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {gzipSync} from 'node:zlib'
import {after, before, describe, it} from 'node:test'
import {packageRoot} from '../../src/remote/bpfd-binary.js'
import {bpftools, guestSkipReason, ndjson, type CliResult} from './cli.js'
import {Guest} from './guest.js'

const FIXTURES = join(packageRoot(), 'test', 'targets', 'fixtures')

function explain(guest: Guest, r: CliResult): string {
  return `exit ${r.code} after ${r.ms} ms\nstderr: ${r.stderr}\nstdout (head): ${r.stdout.slice(0, 3000)}\nguest console:\n${guest.consoleTail(15)}`
}

/** The counts stackcount printed: the number ending each stack's block. */
function stackCounts(stdout: string): number[] {
  return stdout
    .split('\n')
    .map((l) => /^\s+(\d+)\s*$/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]))
}

/** Runs `bpftools ARGS` while `cat FILE` loops in the guest. */
async function withCatLoop(guest: Guest, file: string, args: string[]): Promise<CliResult> {
  await guest.check(`echo x > ${file}`)
  const loop = await guest.spawn(`while :; do cat ${file}; sleep 0.1; done`)
  try {
    return await bpftools(args)
  } finally {
    await guest.sh(`kill ${loop}`)
  }
}

/** Copies a host file into the guest: gzip + base64 in lines over the ctl port. */
async function push(guest: Guest, hostPath: string, guestPath: string): Promise<void> {
  const b64 = gzipSync(readFileSync(hostPath), {level: 9}).toString('base64')
  const staging = `${guestPath}.b64`
  await guest.check(`rm -f ${staging}`)
  const chunk = 16_000
  for (let i = 0; i < b64.length; i += chunk) await guest.check(`echo ${b64.slice(i, i + chunk)} >> ${staging}`)
  await guest.check(`base64 -d ${staging} | gunzip > ${guestPath} && chmod 755 ${guestPath} && rm ${staging}`)
  const size = Number((await guest.check(`wc -c < ${guestPath}`)).trim())
  assert.equal(size, readFileSync(hostPath).length, `${guestPath} arrived with ${size} bytes`)
}

const skip = await guestSkipReason('x86_64')
describe('x86_64 guest probes', {skip}, () => {
  let guest: Guest

  before(async () => {
    guest = await Guest.start({arch: 'x86_64', log: (line) => process.stderr.write(`guest ${line}\n`)})
  }, {timeout: 180_000})

  after(async () => {
    await guest?.stop()
  })

  it('stackcount -K k:do_sys_openat2 counts guest stacks symbolised from its kallsyms', async () => {
    const r = await withCatLoop(guest, '/tmp/sc-k', ['stackcount', '--remote', guest.remote, '-K', '-D', '3', 'k:do_sys_openat2'])
    assert.equal(r.code, 0, explain(guest, r))
    const counts = stackCounts(r.stdout)
    assert.ok(counts.some((n) => n > 0), `no counts\n${explain(guest, r)}`)
    // Frames are whole lines; the header names the pattern too.
    assert.match(r.stdout, /^\s+do_sys_openat2$/m, explain(guest, r))
    assert.match(r.stdout, /^\s+(?:do_syscall_64|__x64_sys_openat2?)$/m, explain(guest, r))
  })

  it("stackcount 'k:do_sys_open*' attaches to every match and counts", async () => {
    const r = await withCatLoop(guest, '/tmp/sc-w', ['stackcount', '--remote', guest.remote, '-K', '-D', '3', 'k:do_sys_open*'])
    assert.equal(r.code, 0, explain(guest, r))
    const header = /Tracing (\d+) functions?/.exec(r.stdout + r.stderr)
    assert.ok(header, `no 'Tracing N functions' header\n${explain(guest, r)}`)
    assert.ok(Number(header[1]) >= 1, header[0])
    assert.ok(stackCounts(r.stdout).some((n) => n > 0), `no counts\n${explain(guest, r)}`)
  })

  it('bpftools run: a kretprobe on do_sys_openat2 counts returns into a map', async () => {
    const r = await withCatLoop(guest, '/tmp/kret', ['run', join(FIXTURES, 'openat2_ret_count.bpf.c'), '--remote', guest.remote, '--json', '-d', '3'])
    assert.equal(r.code, 0, explain(guest, r))
    const map = ndjson(r.stdout).find((l) => l.map === 'counts') as {entries?: {key: unknown; value: unknown}[]} | undefined
    assert.ok(map?.entries, `no 'counts' map in the output\n${explain(guest, r)}`)
    const byKey = new Map(map.entries.map((e) => [Number(e.key), Number(e.value)]))
    assert.ok((byKey.get(0) ?? 0) > 0, `returns: ${JSON.stringify(map.entries)}`)
    assert.ok((byKey.get(1) ?? 0) > 0, `successful returns: ${JSON.stringify(map.entries)}`)
  })

  it('stackcount -U u:BINARY:bench_target counts user stacks of a static guest binary', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bpftools-uprobe-'))
    const bin = join(dir, 'probe-bin')
    try {
      execFileSync('gcc', ['-static', '-O0', '-g', '-fno-omit-frame-pointer', '-o', bin, join(FIXTURES, 'probe_target.c')], {stdio: 'pipe'})
      await push(guest, bin, '/tmp/probe-bin')
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
    const pid = await guest.spawn('exec /tmp/probe-bin')
    let r: CliResult
    try {
      r = await bpftools(['stackcount', '--remote', guest.remote, '-U', '-D', '3', 'u:/tmp/probe-bin:bench_target'])
    } finally {
      await guest.sh(`kill ${pid}`)
    }
    assert.equal(r.code, 0, explain(guest, r))
    assert.ok(stackCounts(r.stdout).some((n) => n > 0), `no counts\n${explain(guest, r)}`)
    assert.match(r.stdout, /^\s+bench_target$/m, explain(guest, r))
    assert.match(r.stdout, /^\s+main$/m, explain(guest, r))
  })
})
