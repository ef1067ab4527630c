/**
 * Builds and caches the kernel + initramfs of the test guests, from Debian
 * packages only: the distribution's cloud kernel (which has BTF, kprobes and
 * syscall tracepoints), busybox-static, and bpftools' own static bpfd.
 *
 * Cache: $BPFTOOLS_CACHE_DIR/targets (default ~/.cache/bpftools/targets)
 *   debs/                       the downloaded .deb files
 *   images/ARCH-KEY/            vmlinuz, initramfs.gz, manifest.json
 * KEY hashes the package versions, bpfd, the /init script and this builder's
 * format, so a second run neither downloads nor rebuilds.
 */
import {execFile} from 'node:child_process'
import {createHash} from 'node:crypto'
import {existsSync} from 'node:fs'
import {mkdir, mkdtemp, readdir, readFile, rename, rm, stat, utimes, writeFile} from 'node:fs/promises'
import {join} from 'node:path'
import {gunzipSync, gzipSync} from 'node:zlib'
import {defaultCacheDir} from '../../src/compile/compile.js'
import {bpfdPath, packageRoot} from '../../src/remote/bpfd-binary.js'
import {cpioNewc, type CpioEntry} from './cpio.js'

export type GuestArch = 'x86_64' | 'aarch64'

/** Bump when the image layout changes in a way the hashed inputs do not show. */
const FORMAT = 'bpftools-guest-image-2'

type ArchSpec = {deb: string; modules: string[]}

const ARCH: Record<GuestArch, ArchSpec> = {
  // PC machine: the virtio devices sit on PCI.
  x86_64: {deb: 'amd64', modules: ['virtio_pci', 'virtio_console', 'virtio_blk', 'virtio_net']},
  // virt machine: virtio-mmio transports.
  aarch64: {deb: 'arm64', modules: ['virtio_mmio', 'virtio_console', 'virtio_blk', 'virtio_net']},
}

/** The guests cannot be had here (a tool, a package or the network is missing): tests skip, saying this. */
export class TargetUnavailable extends Error {
  override name = 'TargetUnavailable'
}

export type Manifest = {
  format: string
  arch: GuestArch
  key: string
  kernelPackage: string
  kernelVersion: string
  kernelRelease: string
  busyboxVersion: string
  bpfdSha256: string
  initSha256: string
  adbdSha256: string
  modules: string[]
  kernelBytes: number
  initrdBytes: number
  buildMs: number
}

export type GuestImage = {
  arch: GuestArch
  kernel: string
  initrd: string
  manifest: Manifest
  /** True when this call found the image in the cache. */
  cached: boolean
}

export type BuildOptions = {
  log?: (line: string) => void
  cacheDir?: string
}

export function targetsCacheDir(cacheDir?: string): string {
  return join(cacheDir ?? defaultCacheDir(), 'targets')
}

const TOOL_PACKAGES: Record<string, string> = {
  'apt-get': 'apt',
  'apt-cache': 'apt',
  dpkg: 'dpkg',
  'dpkg-deb': 'dpkg',
  xz: 'xz-utils',
  zstd: 'zstd',
}

function run(cmd: string, args: string[], options: {cwd?: string; input?: Buffer; maxBuffer?: number} = {}): Promise<{stdout: Buffer; stderr: string}> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, {cwd: options.cwd, encoding: 'buffer', maxBuffer: options.maxBuffer ?? 256 << 20, env: {...process.env, LC_ALL: 'C'}}, (error, stdout, stderr) => {
      if (error) {
        const code = (error as NodeJS.ErrnoException).code
        if (code === 'ENOENT') {
          const pkg = TOOL_PACKAGES[cmd]
          return reject(new TargetUnavailable(`${cmd} is not installed${pkg ? ` (Debian package ${pkg})` : ''}; the test guests need it`))
        }
        const text = stderr.toString().trim().split('\n').slice(-5).join('\n')
        return reject(Object.assign(new Error(`${cmd} ${args.join(' ')} failed: ${text || error.message}`), {stderr: stderr.toString()}))
      }
      resolve({stdout, stderr: stderr.toString()})
    })
    if (options.input) child.stdin?.end(options.input)
  })
}

async function text(cmd: string, args: string[]): Promise<string> {
  return (await run(cmd, args)).stdout.toString()
}

const isRoot = () => process.getuid?.() === 0

/** apt-cache fails on unknown packages: that is an empty answer, but a missing apt-cache is not. */
function missingToolOnly(error: unknown): string {
  if (error instanceof TargetUnavailable) throw error
  return ''
}

/** Makes apt know the guest's architecture (dpkg --add-architecture + update), once. */
async function ensureAptArch(debArch: string, log: (line: string) => void): Promise<void> {
  const native = (await text('dpkg', ['--print-architecture'])).trim()
  if (native === debArch) return
  const foreign = (await text('dpkg', ['--print-foreign-architectures'])).split('\n').map((s) => s.trim())
  if (foreign.includes(debArch)) return
  if (!isRoot()) {
    throw new TargetUnavailable(`apt does not know ${debArch} packages; as root run: dpkg --add-architecture ${debArch} && apt-get update`)
  }
  log(`adding the ${debArch} architecture to dpkg and updating apt's lists`)
  await run('dpkg', ['--add-architecture', debArch])
  await aptUpdate()
}

async function aptUpdate(): Promise<void> {
  try {
    await run('apt-get', ['update', '-qq'])
  } catch (error) {
    throw new TargetUnavailable(`apt-get update failed (no Debian mirror reachable?): ${(error as Error).message}`)
  }
}

/** Candidate versions apt would install, by package name as asked (one apt-cache run: each costs about a second). */
async function candidates(pkgs: string[]): Promise<Map<string, string>> {
  const out = await text('apt-cache', ['policy', ...pkgs]).catch(missingToolOnly)
  const found = new Map<string, string>()
  let current: string | undefined
  for (const line of out.split('\n')) {
    const head = /^(\S+):$/.exec(line)
    if (head) current = head[1]
    const m = /^\s*Candidate:\s*(\S+)/.exec(line)
    if (m && current && m[1] !== '(none)') found.set(current, m[1])
  }
  // apt-cache prints host-architecture packages without their ':arch'.
  for (const pkg of pkgs) {
    const bare = pkg.replace(/:[^:]+$/, '')
    if (!found.has(pkg) && found.has(bare)) found.set(pkg, found.get(bare)!)
  }
  return found
}

type Packages = {kernel: string; kernelVersion: string; busyboxVersion: string}

/** Identifies the state of apt's lists and dpkg's architectures: resolutions stay valid while it does not change. */
async function aptStamp(): Promise<string> {
  const hash = createHash('sha256')
  for (const dir of ['/var/lib/apt/lists', '/var/lib/dpkg/arch']) {
    const names = await readdir(dir).catch(() => [] as string[])
    for (const name of names.sort()) {
      const s = await stat(join(dir, name)).catch(() => undefined)
      if (s?.isFile()) hash.update(`${name} ${s.size} ${s.mtimeMs}\n`)
    }
    const s = await stat(dir).catch(() => undefined)
    if (s?.isFile()) hash.update(`${dir} ${s.size} ${s.mtimeMs}\n`)
  }
  return hash.digest('hex')
}

/** Current package names and versions: the cloud kernel the meta-package points at, and busybox-static. */
async function resolvePackages(root: string, debArch: string, log: (line: string) => void): Promise<Packages> {
  const memoFile = join(root, `resolved-${debArch}.json`)
  const stamp = await aptStamp()
  try {
    const memo = JSON.parse(await readFile(memoFile, 'utf8')) as {stamp: string; packages: Packages}
    if (memo.stamp === stamp) return memo.packages
  } catch {
    // No memo yet.
  }
  await ensureAptArch(debArch, log)
  const meta = `linux-image-cloud-${debArch}:${debArch}`
  let updated = false
  for (;;) {
    const deps = await text('apt-cache', ['depends', meta]).catch(missingToolOnly)
    const kernel = /Depends:\s*(linux-image-[^\s:]+-cloud-[^\s:]+)/.exec(deps)?.[1]
    const busyboxName = `busybox-static:${debArch}`
    const versions = await candidates(kernel ? [`${kernel}:${debArch}`, busyboxName] : [busyboxName])
    const kernelVersion = kernel && versions.get(`${kernel}:${debArch}`)
    const busyboxVersion = versions.get(busyboxName)
    if (kernel && kernelVersion && busyboxVersion) {
      const packages = {kernel, kernelVersion, busyboxVersion}
      await mkdir(root, {recursive: true})
      await writeFile(memoFile, JSON.stringify({stamp: await aptStamp(), packages}) + '\n')
      return packages
    }
    if (!updated && isRoot()) {
      // Lists can lag behind an added architecture: refresh once.
      log(`apt does not know ${kernel ? `${kernel}:${debArch}` : meta} or ${busyboxName}; running apt-get update`)
      await aptUpdate()
      updated = true
      continue
    }
    const missing = !kernel ? `${meta} (the cloud kernel meta-package)` : !kernelVersion ? `${kernel}:${debArch}` : busyboxName
    throw new TargetUnavailable(`Debian package ${missing} is not available from apt`)
  }
}

function debFile(name: string, version: string, debArch: string): string {
  return `${name}_${version.replace(/:/g, '%3a')}_${debArch}.deb`
}

async function download(debsDir: string, name: string, version: string, debArch: string, log: (line: string) => void): Promise<string> {
  const file = join(debsDir, debFile(name, version, debArch))
  if (existsSync(file)) return file
  log(`downloading ${name}:${debArch} ${version}`)
  // As root apt drops to the _apt user, which cannot write to a cache under /root.
  const sandbox = isRoot() ? ['-o', 'APT::Sandbox::User=root'] : []
  try {
    await run('apt-get', [...sandbox, 'download', '-q', `${name}:${debArch}=${version}`], {cwd: debsDir})
  } catch (error) {
    if (error instanceof TargetUnavailable) throw error
    throw new TargetUnavailable(`cannot download Debian package ${name}:${debArch}=${version}: ${(error as Error).message}`)
  }
  if (!existsSync(file)) throw new Error(`apt-get download ${name}:${debArch}=${version} did not write ${file}`)
  return file
}

/** Reads a kernel module's `depends=` from its .modinfo section. */
export function moduleDepends(ko: Buffer): string[] {
  if (ko.length < 64 || ko.readUInt32BE(0) !== 0x7f454c46 || ko[4] !== 2 || ko[5] !== 1) {
    throw new Error('not a little-endian ELF64 kernel module')
  }
  const shoff = Number(ko.readBigUInt64LE(0x28))
  const shentsize = ko.readUInt16LE(0x3a)
  const shnum = ko.readUInt16LE(0x3c)
  const shstrndx = ko.readUInt16LE(0x3e)
  const section = (i: number) => {
    const at = shoff + i * shentsize
    return {name: ko.readUInt32LE(at), offset: Number(ko.readBigUInt64LE(at + 0x18)), size: Number(ko.readBigUInt64LE(at + 0x20))}
  }
  const names = section(shstrndx)
  for (let i = 0; i < shnum; i++) {
    const s = section(i)
    const nameEnd = ko.indexOf(0, names.offset + s.name)
    if (ko.toString('latin1', names.offset + s.name, nameEnd) !== '.modinfo') continue
    for (const entry of ko.toString('latin1', s.offset, s.offset + s.size).split('\0')) {
      if (entry.startsWith('depends=')) return entry.slice('depends='.length).split(',').filter(Boolean)
    }
    return []
  }
  return []
}

async function walk(dir: string): Promise<string[]> {
  const out: string[] = []
  for (const entry of await readdir(dir, {withFileTypes: true})) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) out.push(...(await walk(path)))
    else out.push(path)
  }
  return out
}

/** Module bytes, uncompressed: busybox insmod may not read .ko.xz or .ko.zst. */
async function moduleBytes(path: string): Promise<Buffer> {
  const raw = await readFile(path)
  if (path.endsWith('.ko')) return raw
  if (path.endsWith('.ko.gz')) return gunzipSync(raw)
  if (path.endsWith('.ko.xz')) return (await run('xz', ['-dc'], {input: raw})).stdout
  if (path.endsWith('.ko.zst')) return (await run('zstd', ['-dc'], {input: raw})).stdout
  throw new Error(`unknown module compression: ${path}`)
}

type Module = {name: string; bytes: Buffer}

/** The wanted modules and everything they depend on, dependencies first; built-in ones are skipped. */
async function collectModules(modulesDir: string, wanted: string[]): Promise<Module[]> {
  const files = new Map<string, string>()
  for (const path of await walk(join(modulesDir, 'kernel'))) {
    const m = /\/([^/]+)\.ko(\.(xz|gz|zst))?$/.exec(path)
    if (m) files.set(m[1].replace(/-/g, '_'), path)
  }
  const builtinText = await readFile(join(modulesDir, 'modules.builtin'), 'utf8').catch(() => '')
  const builtin = new Set(builtinText.split('\n').map((l) => /([^/]+)\.ko$/.exec(l)?.[1]?.replace(/-/g, '_')).filter(Boolean))
  const ordered: Module[] = []
  const seen = new Set<string>()
  const visit = async (name: string, from: string) => {
    const key = name.replace(/-/g, '_')
    if (seen.has(key) || builtin.has(key)) return
    seen.add(key)
    const path = files.get(key)
    if (!path) throw new Error(`kernel module ${name} (needed by ${from}) is not in ${modulesDir}`)
    const bytes = await moduleBytes(path)
    for (const dep of moduleDepends(bytes)) await visit(dep, name)
    ordered.push({name: key, bytes})
  }
  for (const name of wanted) await visit(name, 'the guest')
  return ordered
}

function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex')
}

async function readManifest(dir: string): Promise<Manifest | undefined> {
  try {
    return JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as Manifest
  } catch {
    return undefined
  }
}

function imageOf(dir: string, manifest: Manifest, cached: boolean): GuestImage {
  return {arch: manifest.arch, kernel: join(dir, 'vmlinuz'), initrd: join(dir, 'initramfs.gz'), manifest, cached}
}

/** Without apt (offline), an image built earlier from the same bpfd and /init still serves. */
async function cachedFallback(imagesDir: string, arch: GuestArch, scripts: {bpfdSha256: string; initSha256: string; adbdSha256: string}): Promise<GuestImage | undefined> {
  const names = await readdir(imagesDir).catch(() => [] as string[])
  let best: {dir: string; manifest: Manifest; mtime: number} | undefined
  for (const name of names.filter((n) => n.startsWith(`${arch}-`))) {
    const dir = join(imagesDir, name)
    const manifest = await readManifest(dir)
    const same = manifest && manifest.format === FORMAT && (['bpfdSha256', 'initSha256', 'adbdSha256'] as const).every((k) => manifest[k] === scripts[k])
    if (!manifest || !same) continue
    const mtime = (await stat(dir)).mtimeMs
    if (!best || mtime > best.mtime) best = {dir, manifest, mtime}
  }
  return best && imageOf(best.dir, best.manifest, true)
}

const DAY_MS = 24 * 3600 * 1000

/**
 * Removes this arch's images unused for a day (another checkout with another
 * bpfd may still use a recent one) and .debs of superseded versions.
 */
async function prune(imagesDir: string, debsDir: string, arch: GuestArch, keep: string, keepDebs: string[], debArch: string): Promise<void> {
  const now = Date.now()
  for (const name of await readdir(imagesDir).catch(() => [] as string[])) {
    const dir = join(imagesDir, name)
    if (dir === keep || !name.startsWith(`${arch}-`)) continue
    const s = await stat(dir).catch(() => undefined)
    if (s && now - s.mtimeMs > DAY_MS) await rm(dir, {recursive: true, force: true})
  }
  const kept = new Set(keepDebs.map((f) => f.slice(debsDir.length + 1)))
  for (const name of await readdir(debsDir).catch(() => [] as string[])) {
    const ours = name.endsWith(`_${debArch}.deb`) && (/^linux-image-.*-cloud-/.test(name) || name.startsWith('busybox-static_'))
    if (ours && !kept.has(name)) await rm(join(debsDir, name), {force: true})
  }
}

export function initScriptPath(): string {
  return join(packageRoot(), 'test', 'targets', 'guest-init.sh')
}

/** The guest's stand-in adbd (test-only, see guest-adbd.sh). */
export function adbdScriptPath(): string {
  return join(packageRoot(), 'test', 'targets', 'guest-adbd.sh')
}

/** The cached image for `arch`, built (and its packages downloaded) first when needed. */
export async function guestImage(arch: GuestArch, options: BuildOptions = {}): Promise<GuestImage> {
  const log = options.log ?? (() => {})
  const spec = ARCH[arch]
  const root = targetsCacheDir(options.cacheDir)
  const imagesDir = join(root, 'images')
  const debsDir = join(root, 'debs')

  const bpfdFile = bpfdPath(arch)
  const bpfd = await readFile(bpfdFile).catch(() => undefined)
  if (!bpfd) throw new TargetUnavailable(`${bpfdFile} is not built (make -s -C daemon)`)
  const init = await readFile(initScriptPath())
  const adbd = await readFile(adbdScriptPath())
  const bpfdSha256 = sha256(bpfd)
  const initSha256 = sha256(init)
  const adbdSha256 = sha256(adbd)

  let pkgs: Packages
  try {
    pkgs = await resolvePackages(root, spec.deb, log)
  } catch (error) {
    const fallback = error instanceof TargetUnavailable && (await cachedFallback(imagesDir, arch, {bpfdSha256, initSha256, adbdSha256}))
    if (fallback) {
      log(`${error instanceof Error ? error.message : String(error)}; using the cached image ${fallback.manifest.key}`)
      return fallback
    }
    throw error
  }

  const key = sha256(
    JSON.stringify([FORMAT, arch, pkgs.kernel, pkgs.kernelVersion, pkgs.busyboxVersion, bpfdSha256, initSha256, adbdSha256, spec.modules]),
  ).slice(0, 16)
  const dir = join(imagesDir, `${arch}-${key}`)
  const existing = await readManifest(dir)
  if (existing) {
    // Marks it as in use for prune().
    await utimes(dir, new Date(), new Date()).catch(() => {})
    return imageOf(dir, existing, true)
  }

  const started = Date.now()
  await mkdir(debsDir, {recursive: true})
  await mkdir(imagesDir, {recursive: true})
  const kernelDeb = await download(debsDir, pkgs.kernel, pkgs.kernelVersion, spec.deb, log)
  const busyboxDeb = await download(debsDir, 'busybox-static', pkgs.busyboxVersion, spec.deb, log)

  log(`building the ${arch} guest image ${key}`)
  const work = await mkdtemp(join(root, `build-${arch}-`))
  try {
    await run('dpkg-deb', ['-x', kernelDeb, join(work, 'kernel')])
    await run('dpkg-deb', ['-x', busyboxDeb, join(work, 'busybox')])

    const bootDir = join(work, 'kernel', 'boot')
    const vmlinuzName = (await readdir(bootDir)).find((n) => n.startsWith('vmlinuz-'))
    if (!vmlinuzName) throw new Error(`${pkgs.kernel}: no boot/vmlinuz-* in the package`)
    const releases = await readdir(join(work, 'kernel', 'lib', 'modules'))
    if (releases.length !== 1) throw new Error(`${pkgs.kernel}: expected one lib/modules/RELEASE, found ${releases.join(', ')}`)
    const kernelRelease = releases[0]
    const modules = await collectModules(join(work, 'kernel', 'lib', 'modules', kernelRelease), spec.modules)
    const busybox = await readFile(join(work, 'busybox', 'bin', 'busybox'))

    const manifestBase = {
      format: FORMAT,
      arch,
      key,
      kernelPackage: pkgs.kernel,
      kernelVersion: pkgs.kernelVersion,
      kernelRelease,
      busyboxVersion: pkgs.busyboxVersion,
      bpfdSha256,
      initSha256,
      adbdSha256,
      modules: modules.map((m) => m.name),
    }
    const entries: CpioEntry[] = [
      ...['bin', 'dev', 'etc', 'lib', 'lib/modules', 'proc', 'root', 'sbin', 'sys', 'tmp'].map((path) => ({kind: 'dir' as const, path})),
      // The kernel opens /dev/console for init before devtmpfs is mounted.
      {kind: 'chardev', path: 'dev/console', major: 5, minor: 1},
      {kind: 'chardev', path: 'dev/null', major: 1, minor: 3, mode: 0o666},
      {kind: 'file', path: 'init', data: init, mode: 0o755},
      {kind: 'file', path: 'bin/busybox', data: busybox, mode: 0o755},
      {kind: 'symlink', path: 'bin/sh', target: 'busybox'},
      {kind: 'file', path: 'bin/bpfd', data: bpfd, mode: 0o755},
      {kind: 'file', path: 'sbin/adbd', data: adbd, mode: 0o755},
      ...modules.map((m) => ({kind: 'file' as const, path: `lib/modules/${m.name}.ko`, data: m.bytes})),
      {kind: 'file', path: 'lib/modules/load-order', data: Buffer.from(modules.map((m) => `${m.name}.ko\n`).join(''))},
      {kind: 'file', path: 'etc/hostname', data: Buffer.from('bpftools-guest\n')},
      {kind: 'file', path: 'etc/passwd', data: Buffer.from('root:x:0:0:root:/root:/bin/sh\n')},
      {kind: 'file', path: 'etc/group', data: Buffer.from('root:x:0:\n')},
      {kind: 'file', path: 'etc/bpftools-guest.json', data: Buffer.from(JSON.stringify(manifestBase, null, 2) + '\n')},
    ]
    const initrd = gzipSync(cpioNewc(entries), {level: 9})
    const vmlinuz = await readFile(join(bootDir, vmlinuzName))

    const out = await mkdtemp(join(imagesDir, `.${arch}-${key}-`))
    await writeFile(join(out, 'vmlinuz'), vmlinuz)
    await writeFile(join(out, 'initramfs.gz'), initrd)
    const manifest: Manifest = {...manifestBase, kernelBytes: vmlinuz.length, initrdBytes: initrd.length, buildMs: Date.now() - started}
    await writeFile(join(out, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n')
    try {
      await rename(out, dir)
    } catch (error) {
      // Another process built the same image meanwhile: use theirs.
      await rm(out, {recursive: true, force: true})
      const theirs = await readManifest(dir)
      if (!theirs) throw error
      return imageOf(dir, theirs, false)
    }
    log(`built ${dir} in ${manifest.buildMs} ms (kernel ${vmlinuz.length} bytes, initramfs ${initrd.length} bytes)`)
    await prune(imagesDir, debsDir, arch, dir, [kernelDeb, busyboxDeb], spec.deb)
    return imageOf(dir, manifest, false)
  } finally {
    await rm(work, {recursive: true, force: true})
  }
}
