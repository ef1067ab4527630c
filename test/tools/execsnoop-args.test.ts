import assert from 'node:assert/strict'
import {test} from 'node:test'
import {argsAfterProgram} from '../../src/tools/execsnoop/event.js'

test('a program: the arguments after argv[0]', () => {
  assert.deepEqual(argsAfterProgram(['true', 'arg1', 'arg2'], '/bin/true'), ['arg1', 'arg2'])
  assert.deepEqual(argsAfterProgram(['/bin/true'], '/bin/true'), [])
  assert.deepEqual(argsAfterProgram([], '/bin/true'), [])
})

test('a script: the interpreter, its argument and the script path the kernel put in front are dropped', () => {
  assert.deepEqual(argsAfterProgram(['/bin/sh', '/tmp/s.sh', 'a', 'b c'], '/tmp/s.sh'), ['a', 'b c'])
  assert.deepEqual(argsAfterProgram(['/usr/bin/env', 'node', '/usr/bin/npx', 'tsc'], '/usr/bin/npx'), ['tsc'])
  assert.deepEqual(argsAfterProgram(['/bin/sh', './s.sh'], './s.sh'), [])
})

test('an argument that merely names the program is kept when argv[0] is not an interpreter path', () => {
  assert.deepEqual(argsAfterProgram(['echo', '/bin/echo'], '/bin/echo'), ['/bin/echo'])
})
