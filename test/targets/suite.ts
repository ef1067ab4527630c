/**
 * What every guest must show through the real CLI: the target report;
 * opensnoop, execsnoop and a kprobe reading its arguments, each seeing events
 * that a workload started through the test-only ctl port causes in the guest.
 */
import assert from 'node:assert/strict'
import {execFileSync} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {existsSync, mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'
import {after, before, describe, it} from 'node:test'
import {packageRoot} from '../../src/remote/bpfd-binary.js'
import {bpftools, explain, guestSkipReason, ndjson, type CliResult} from './cli.js'
import {Guest} from './guest.js'
import type {GuestArch} from './images.js'

const KPROBE_SOURCE = join(packageRoot(), 'test', 'targets', 'fixtures', 'openat2_args.bpf.c')

/** Where `asm/ptrace.h` for the arch lives (Debian's native multiarch dir, or the cross package's). */
const ASM_INCLUDE: Record<GuestArch, {dir: string; pkg: string; define: string}> = {
  x86_64: {dir: '/usr/include/x86_64-linux-gnu', pkg: 'linux-libc-dev', define: 'x86'},
  aarch64: {dir: '/usr/aarch64-linux-gnu/include', pkg: 'linux-libc-dev-arm64-cross', define: 'arm64'},
}

/** Compiles the kprobe fixture for `arch` with that architecture's headers; a string says why it cannot be. */
function compileKprobeFixture(arch: GuestArch): string | {object: string} {
  const inc = ASM_INCLUDE[arch]
  if (!existsSync(join(inc.dir, 'asm', 'ptrace.h'))) return `${inc.dir}/asm/ptrace.h is missing (Debian package ${inc.pkg})`
  const object = join(mkdtempSync(join(tmpdir(), 'bpftools-kprobe-')), `openat2_args.${arch}.o`)
  try {
    execFileSync('clang', ['-target', 'bpf', '-O2', '-g', `-D__TARGET_ARCH_${inc.define}`, `-I${inc.dir}`, '-c', KPROBE_SOURCE, '-o', object], {stdio: 'pipe'})
  } catch (error) {
    return `clang cannot build the fixture: ${(error as {stderr?: Buffer}).stderr?.toString() ?? (error as Error).message}`
  }
  return {object}
}

/** Starts `cat FILE` in a loop, runs `bpftools run`, and returns the trace_pipe lines about FILE. */
async function kprobeRun(guest: Guest, program: string, file: string): Promise<{r: CliResult; lines: string[]}> {
  await guest.check(`echo x > ${file}`)
  const loop = await guest.spawn(`while :; do cat ${file}; sleep 0.2; done`)
  let r: CliResult
  try {
    r = await bpftools(['run', program, '--remote', guest.remote, '-d', '3'])
  } finally {
    await guest.sh(`kill ${loop}`)
  }
  return {r, lines: r.stdout.split('\n').filter((l) => l.startsWith('[trace_pipe]') && l.includes(file))}
}

export async function guestSuite(arch: GuestArch): Promise<void> {
  const skip = await guestSkipReason(arch)
  describe(`${arch} guest`, {skip}, () => {
    let guest: Guest
    const tag = randomBytes(4).toString('hex')

    before(async () => {
      guest = await Guest.start({arch, log: (line) => process.stderr.write(`guest ${line}\n`)})
    }, {timeout: 180_000})

    after(async () => {
      await guest?.stop()
    })

    it('bpftools target reports the guest: machine, its 6.1 kernel, BTF, kprobes', async () => {
      const r = await bpftools(['target', '--remote', guest.remote, '--json'])
      assert.equal(r.code, 0, explain(guest, r))
      const info = JSON.parse(r.stdout) as Record<string, any>
      const release = (await guest.check('uname -r')).trim()
      assert.equal(info.target, guest.remote)
      assert.equal(info.machine, arch)
      assert.equal(info.release, release)
      assert.equal(info.release, guest.image.manifest.kernelRelease)
      assert.match(info.release, /^6\.1\./)
      assert.equal(info.btf, true)
      assert.ok(info.btfSize > 1 << 20, `BTF of ${info.btfSize} bytes`)
      assert.equal(info.tracefs, '/sys/kernel/tracing')
      assert.ok(['pmu', 'tracefs'].includes(info.features.kprobe), `kprobe: ${info.features.kprobe}`)
      assert.equal(info.features.ringbuf, true)
    })

    it('opensnoop shows opens made inside the guest', async () => {
      const file = `/tmp/opensnoop-${tag}`
      await guest.check(`echo x > ${file}`)
      const loop = await guest.spawn(`while :; do cat ${file}; sleep 0.2; done`)
      let r: CliResult
      try {
        r = await bpftools(['opensnoop', '--remote', guest.remote, '--json', '-d', '3'])
      } finally {
        await guest.sh(`kill ${loop}`)
      }
      assert.equal(r.code, 0, explain(guest, r))
      const events = ndjson(r.stdout)
      const hits = events.filter((e) => e.path === file)
      assert.ok(hits.length >= 3, `expected the workload's opens of ${file}; got ${hits.length}\n${explain(guest, r)}`)
      for (const e of hits) {
        assert.equal(e.comm, 'cat')
        assert.equal(e.err, 0)
        assert.equal(typeof e.fd, 'number')
        assert.ok((e.fd as number) >= 0)
        assert.equal(e.uid, 0)
        // busybox cat opens through glibc's openat on both architectures.
        assert.equal(e.syscall, 'openat')
      }
      // arm64 has no open(2): the tool must have run without that tracepoint.
      if (arch === 'aarch64') assert.ok(events.every((e) => e.syscall !== 'open'))
    })

    it('execsnoop shows a guest exec with its arguments and parent (CO-RE against the guest BTF)', async () => {
      const marker = `exectest-${tag}`
      const loop = await guest.spawn(`while :; do /bin/bpfd --version ${marker}; sleep 0.3; done`)
      let r: CliResult
      try {
        r = await bpftools(['execsnoop', '--remote', guest.remote, '--json', '-d', '3'])
      } finally {
        await guest.sh(`kill ${loop}`)
      }
      assert.equal(r.code, 0, explain(guest, r))
      const hits = ndjson(r.stdout).filter((e) => Array.isArray(e.argv) && e.argv.includes(marker))
      assert.ok(hits.length >= 2, `expected the workload's execs; got ${hits.length}\n${explain(guest, r)}`)
      for (const e of hits) {
        assert.deepEqual(e.argv, ['/bin/bpfd', '--version', marker])
        assert.equal(e.comm, 'bpfd')
        assert.equal(e.ret, 0)
        assert.equal(e.uid, 0)
        // The parent is the workload's shell: read through CO-RE from task_struct->real_parent.
        assert.equal(e.ppid, loop)
        assert.ok((e.pid as number) > loop)
      }
    })

    it(`a kprobe compiled for ${arch} reads do_sys_openat2's arguments from the registers`, async (t) => {
      const built = compileKprobeFixture(arch)
      if (typeof built === 'string') return t.skip(built)
      const file = `/tmp/kprobe-${tag}`
      t.after(() => rmSync(dirname(built.object), {recursive: true, force: true}))
      const {r, lines} = await kprobeRun(guest, built.object, file)
      assert.equal(r.code, 0, explain(guest, r))
      assert.ok(lines.length >= 3, `expected the workload's opens of ${file}\n${explain(guest, r)}`)
      // AT_FDCWD and the path: an object built for the other architecture reads other registers (0 and '').
      for (const line of lines) assert.match(line, new RegExp(`bpf_trace_printk: openat2 dfd=-100 name=${file}$`))
    })

    it(`bpftools run compiles a kprobe source for ${arch}`, async () => {
      const file = `/tmp/kprobe-src-${tag}`
      const {r, lines} = await kprobeRun(guest, KPROBE_SOURCE, file)
      assert.equal(r.code, 0, explain(guest, r))
      assert.ok(lines.length >= 3, `expected the workload's opens of ${file}\n${explain(guest, r)}`)
      for (const line of lines) assert.match(line, new RegExp(`bpf_trace_printk: openat2 dfd=-100 name=${file}$`))
    })
  })
}
