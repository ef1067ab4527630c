// The list of targets: --remote repeated, --remotes-file, the default; and
// the mistakes a user can make in them, named with the file and line.
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {test} from 'node:test'
import {chooseRemotes, parseRemotesFile, RemotesError} from '../../src/cli/remotes.js'
import {RemoteSpecError} from '../../src/remote/errors.js'
import {packageRoot} from '../../src/remote/bpfd-binary.js'

test('a remotes file: one remote a line, comments and blank lines skipped, line numbers kept', () => {
  const text = '# lab machines\n\nlocal\n  tcp:127.0.0.1:4000  \n\t# off for now: ssh:db1\nadb:R58M123\n'
  assert.deepEqual(parseRemotesFile(text, 'lab.txt'), [
    {remote: 'local', line: 3},
    {remote: 'tcp:127.0.0.1:4000', line: 4},
    {remote: 'adb:R58M123', line: 6},
  ])
})

test('a bad line of a remotes file is named by file and line', () => {
  assert.throws(
    () => parseRemotesFile('local\n\ntcp:127.0.0.1\n', 'lab.txt'),
    (e: unknown) => e instanceof RemotesError && e.message.startsWith("lab.txt:3: invalid remote 'tcp:127.0.0.1': expected tcp:HOST:PORT"),
  )
  assert.throws(() => parseRemotesFile('ftp:x\n', 'lab.txt'), /^RemotesError: lab\.txt:1: invalid remote 'ftp:x'/)
  assert.throws(() => parseRemotesFile('# nothing\n\n', 'empty.txt'), /^RemotesError: empty\.txt: names no remote/)
})

test('targets come from --remote, then the file; the default only when neither names one', () => {
  const names = (s: Parameters<typeof chooseRemotes>[0]) => chooseRemotes(s).map((t) => t.name)
  assert.deepEqual(names({flags: [], defaults: [undefined, undefined]}), ['local'])
  assert.deepEqual(names({flags: [], defaults: ['', 'tcp:10.0.0.1:1']}), ['tcp:10.0.0.1:1'])
  assert.deepEqual(names({flags: ['tcp:127.0.0.1:1'], defaults: ['adb:']}), ['tcp:127.0.0.1:1'])
  assert.deepEqual(names({flags: ['local'], file: {name: 'f', text: 'tcp:127.0.0.1:2\n'}, defaults: ['adb:']}), ['local', 'tcp:127.0.0.1:2'])
  // The label is the target's name, without a token file.
  assert.deepEqual(chooseRemotes({flags: ['tcp:127.0.0.1:9?token=/etc/t'], defaults: []}), [{remote: 'tcp:127.0.0.1:9?token=/etc/t', name: 'tcp:127.0.0.1:9'}])
})

test('a target named twice is refused, naming both places', () => {
  assert.throws(
    () => chooseRemotes({flags: ['local', 'tcp:127.0.0.1:4000'], file: {name: 'lab.txt', text: '\ntcp:127.0.0.1:4000\n'}, defaults: []}),
    (e: unknown) => e instanceof RemotesError && e.message === 'lab.txt:2: tcp:127.0.0.1:4000 is already a target (--remote tcp:127.0.0.1:4000)',
  )
  assert.throws(() => chooseRemotes({flags: ['local', ' local'], defaults: []}), /--remote {2}local: local is already a target \(--remote local\)/)
  assert.throws(() => chooseRemotes({flags: ['tcp:x'], defaults: []}), (e: unknown) => e instanceof RemoteSpecError)
})

test('the CLI reports a bad remotes file with exit code 2 before reaching any target', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bpftools-remotes-'))
  const file = join(dir, 'lab.txt')
  writeFileSync(file, 'local\n# a comment\nssh:-oProxyCommand=x\n')
  const cli = (...args: string[]) => spawnSync(join(packageRoot(), 'bin', 'bpftools'), args, {encoding: 'utf8', env: {...process.env, BPFTOOLS_REMOTE: ''}})
  const bad = cli('target', '--remotes-file', file)
  assert.equal(bad.status, 2, bad.stderr)
  assert.equal(bad.stderr.split('\n')[0], `bpftools: ${file}:3: invalid remote 'ssh:-oProxyCommand=x': host '-oProxyCommand=x' is not valid`)
  assert.equal(bad.stdout, '')
  const missing = cli('opensnoop', '--remotes-file', join(dir, 'nope.txt'))
  assert.equal(missing.status, 2, missing.stderr)
  assert.equal(missing.stderr, `bpftools: --remotes-file ${join(dir, 'nope.txt')}: cannot read it (ENOENT)\n`)
  const again = join(dir, 'again.txt')
  writeFileSync(again, '# this machine\nlocal\n')
  const twice = cli('opensnoop', '-r', 'local', '--remotes-file', again, '-d', '1')
  assert.equal(twice.status, 2, twice.stderr)
  assert.equal(twice.stderr, `bpftools: ${again}:2: local is already a target (--remote local)\n`)
})
