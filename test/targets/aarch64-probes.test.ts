/**
 * Stacks and block I/O on the arm64 guest through the real CLI: stackcount's
 * kernel stacks named from the guest's kallsyms, user stacks of a static
 * arm64 binary named from its ELF fetched through bpfd, and biolatency on
 * the guest's virtio disk.
 */
import assert from 'node:assert/strict'
import {rmSync} from 'node:fs'
import {dirname} from 'node:path'
import {after, before, describe, it} from 'node:test'
import {staticBinary} from './build-fixture.js'
import {bpftools, explain, guestSkipReason, ndjson, withCatLoop, type CliResult} from './cli.js'
import {Guest} from './guest.js'

type StackLine = {count: number; kernel_stack: {address: string; symbol: string}[]; user_stack: {address: string; symbol: string}[]}

const skip = await guestSkipReason('aarch64')
describe('aarch64 guest stacks and block I/O', {skip}, () => {
  let guest: Guest

  before(async () => {
    guest = await Guest.start({arch: 'aarch64', disk: true, log: (line) => process.stderr.write(`guest ${line}\n`)})
  }, {timeout: 180_000})

  after(async () => {
    await guest?.stop()
  })

  it('stackcount -K k:do_sys_openat2: kernel stacks named from the guest kallsyms, leaf first', async () => {
    const r = await withCatLoop(guest, '/tmp/sc-k', ['stackcount', '--remote', guest.remote, '-K', '-D', '3', '--json', 'k:do_sys_openat2'])
    assert.equal(r.code, 0, explain(guest, r))
    const stacks = ndjson(r.stdout) as StackLine[]
    assert.ok(stacks.length > 0 && stacks.every((s) => s.count > 0), `no stacks counted\n${explain(guest, r)}`)
    // The guest kernel is randomised (KASLR): only its own kallsyms put these names on these addresses.
    const kallsyms = new Map(
      (await guest.check(`grep -E ' (do_sys_openat2|invoke_syscall|do_el0_svc|el0_svc)$' /proc/kallsyms`))
        .trim()
        .split('\n')
        .map((l) => l.split(' '))
        .map(([addr, , name]) => [name, BigInt(`0x${addr}`)]),
    )
    for (const s of stacks) {
      const names = s.kernel_stack.map((f) => f.symbol)
      // The probe fires before do_sys_openat2 saves its frame record, so the
      // walk goes from it straight to its caller's caller (__arm64_sys_openat is skipped).
      assert.deepEqual(names.slice(0, 5).map((n) => n.replace(/\..*$/, '')), ['do_sys_openat2', 'invoke_syscall', 'el0_svc_common', 'do_el0_svc', 'el0_svc'], names.join(' <- '))
      assert.deepEqual(s.user_stack, [])
      for (const f of s.kernel_stack.slice(0, 2)) {
        const start = kallsyms.get(f.symbol)
        assert.ok(start !== undefined, `${f.symbol} is not in the guest's kallsyms`)
        const offset = BigInt(f.address) - start
        assert.ok(offset >= 0n && offset < 0x1000n, `${f.symbol} at ${f.address}: ${offset} bytes past its kallsyms address`)
      }
    }
  })

  it('stackcount -U -p: user stacks of a static arm64 binary, named from its ELF fetched through bpfd', async (t) => {
    // aarch64 gcc leaves the frame record out of leaf functions even with
    // -fno-omit-frame-pointer; level_two would hide level_one without the -m flag.
    const built = staticBinary('aarch64', 'stack_chain.c', ['-g', '-fno-omit-frame-pointer', '-mno-omit-leaf-frame-pointer'])
    if (typeof built === 'string') return t.skip(built)
    try {
      await guest.push(built.path, '/tmp/stack_chain')
    } finally {
      rmSync(dirname(built.path), {recursive: true, force: true})
    }
    const pid = await guest.spawn('exec /tmp/stack_chain')
    let r: CliResult
    try {
      r = await bpftools(['stackcount', '--remote', guest.remote, '-U', '-p', String(pid), '-D', '3', '--json', 't:syscalls:sys_enter_getppid'])
    } finally {
      await guest.sh(`kill ${pid}`)
    }
    assert.equal(r.code, 0, explain(guest, r))
    const stacks = ndjson(r.stdout) as StackLine[]
    assert.ok(stacks.length > 0, `no stacks counted\n${explain(guest, r)}`)
    const total = stacks.reduce((n, s) => n + s.count, 0)
    // 3 s of a loop that calls getppid every 20 ms.
    assert.ok(total >= 20, `${total} getppid calls counted\n${explain(guest, r)}`)
    for (const s of stacks) {
      assert.deepEqual(s.kernel_stack, [])
      assert.deepEqual(s.user_stack.slice(0, 3).map((f) => f.symbol), ['level_two', 'level_one', 'main'], JSON.stringify(s.user_stack))
    }
  })

  it('biolatency -D: a histogram of the O_DIRECT reads and writes on the guest disk vda', async () => {
    const loop = await guest.spawn(
      'while :; do dd if=/dev/vda of=/dev/null bs=4k count=64 iflag=direct; dd if=/dev/zero of=/dev/vda bs=4k count=16 oflag=direct; done',
    )
    let r: CliResult
    try {
      r = await bpftools(['biolatency', '--remote', guest.remote, '-D', '-e', '--json', '2', '1'])
    } finally {
      await guest.sh(`kill ${loop}`)
    }
    assert.equal(r.code, 0, explain(guest, r))
    const histograms = ndjson(r.stdout) as {disk?: string; data: {count: number}[]; count?: number}[]
    assert.deepEqual(histograms.map((h) => h.disk), ['vda'], explain(guest, r))
    const [h] = histograms
    const inBuckets = h.data.reduce((n, b) => n + b.count, 0)
    assert.ok(inBuckets > 0, `empty histogram\n${explain(guest, r)}`)
    // -e's count includes bucket 0 (under 1 us), which bcc's JSON leaves out.
    assert.ok((h.count ?? 0) >= inBuckets, `-e counted ${h.count} requests, the buckets ${inBuckets}`)
  })
})
