// Every flag a command accepts is in its --help: its own flags and the
// global ones, with the short form, and the other spellings it accepts.
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {readdirSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {test} from 'node:test'
import {packageRoot} from '../../src/remote/bpfd-binary.js'

type ManifestFlag = {name: string; char?: string; aliases?: string[]; helpGroup?: string}
type Manifest = {commands: Record<string, {flags: Record<string, ManifestFlag>}>}

const root = packageRoot()
const withDashboard = new Set(['opensnoop', 'execsnoop', 'stackcount', 'biolatency'])
const manifest = JSON.parse(readFileSync(join(root, 'oclif.manifest.json'), 'utf8')) as Manifest

test('the manifest has every command there is', () => {
  const files = readdirSync(join(root, 'dist', 'commands')).filter((f) => f.endsWith('.js')).map((f) => f.slice(0, -3))
  assert.deepEqual(Object.keys(manifest.commands).sort(), files.sort())
})

for (const [id, command] of Object.entries(manifest.commands)) {
  test(`${id} --help lists every flag ${id} accepts`, () => {
    const r = spawnSync(join(root, 'bin', 'bpftools'), [id, '--help'], {encoding: 'utf8'})
    assert.equal(r.status, 0, r.stderr)
    const help = r.stdout
    const flags = Object.values(command.flags)
    // The shared flags are part of every command.
    for (const shared of ['remote', 'remotes-file', 'json', 'verbose', 'arch']) assert.ok(command.flags[shared], `${id} has no --${shared}`)
    // Only the tools with a live view take --dashboard; elsewhere it is refused as unknown.
    assert.equal(Boolean(command.flags.dashboard), withDashboard.has(id), `${id}: --dashboard`)
    for (const f of flags) {
      const long = `--${f.name}`
      assert.ok(new RegExp(`(^|[\\s,\\[])${long.replace(/[-]/g, '\\-')}([=\\s\\]]|$)`, 'm').test(help), `${id} --help does not list ${long}\n${help}`)
      if (f.char) assert.ok(help.includes(`-${f.char}, ${long}`), `${id} --help does not give -${f.char} for ${long}`)
      for (const alias of f.aliases ?? []) assert.ok(help.includes(`--${alias}`), `${id} --help does not mention --${alias} (accepted for ${long})`)
    }
  })
}
