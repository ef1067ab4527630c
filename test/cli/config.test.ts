import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {mkdirSync, mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {test} from 'node:test'
import {ConfigError, readUserConfig} from '../../src/cli/config.js'
import {packageRoot} from '../../src/remote/bpfd-binary.js'

function configDir(content: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'bpftools-config-'))
  mkdirSync(join(dir, 'bpftools'))
  writeFileSync(join(dir, 'bpftools', 'config.json'), content)
  return dir
}

test('no config file means no settings', () => {
  assert.deepEqual(readUserConfig({XDG_CONFIG_HOME: mkdtempSync(join(tmpdir(), 'bpftools-empty-'))}), {})
})

test('settings are read, and mistakes are named', () => {
  assert.deepEqual(readUserConfig({XDG_CONFIG_HOME: configDir('{"remote": "adb:", "cacheDir": "/var/cache/x"}')}), {remote: 'adb:', cacheDir: '/var/cache/x'})
  assert.throws(() => readUserConfig({XDG_CONFIG_HOME: configDir('{"remote": ')}), (e: unknown) => e instanceof ConfigError && /not valid JSON/.test(e.message))
  assert.throws(() => readUserConfig({XDG_CONFIG_HOME: configDir('{"remot": "x"}')}), /unknown setting 'remot'/)
  assert.throws(() => readUserConfig({XDG_CONFIG_HOME: configDir('{"remote": 5}')}), /'remote' must be a string/)
})

test('the config file sets the default remote; the environment and the flag win over it', () => {
  const home = configDir('{"remote": "tcp:127.0.0.1:1"}')
  const run = (args: string[], env: Record<string, string> = {}) =>
    spawnSync(join(packageRoot(), 'bin', 'bpftools'), ['target', ...args], {encoding: 'utf8', env: {...process.env, XDG_CONFIG_HOME: home, BPFTOOLS_REMOTE: '', ...env}})
  const fromConfig = run([])
  assert.equal(fromConfig.status, 3, fromConfig.stderr)
  assert.match(fromConfig.stderr, /tcp:127\.0\.0\.1:1/)
  const fromEnv = run([], {BPFTOOLS_REMOTE: 'local'})
  assert.equal(fromEnv.status, 0, fromEnv.stderr)
  const fromFlag = run(['--remote', 'local'])
  assert.equal(fromFlag.status, 0, fromFlag.stderr)
})
