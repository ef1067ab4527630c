import {test} from 'node:test'
import assert from 'node:assert/strict'
import {foldStacks, parseFolded} from '../../src/output/folded.js'

// Leaf first, as a stack map gives them: two kernel frames, two user frames, the process name.
const sample = {frames: ['do_sys_openat2', '__x64_sys_openat', '__libc_open64', 'main', 'cat'], kernelFrames: 2, count: 5}

test('folded: root first, count after a space', () => {
  assert.equal(foldStacks([sample]), 'cat;main;__libc_open64;__x64_sys_openat;do_sys_openat2 5\n')
})

test('folded: the delimiter goes between the user and the kernel part', () => {
  assert.equal(foldStacks([sample], {delimiter: '-'}), 'cat;main;__libc_open64;-;__x64_sys_openat;do_sys_openat2 5\n')
})

test('folded: no delimiter without both parts', () => {
  const kernelOnly = {frames: ['schedule', 'worker_thread'], kernelFrames: 2, count: 1}
  const userOnly = {frames: ['read', 'main'], kernelFrames: 0, count: 2}
  const unmarked = {frames: ['read', 'main'], count: 3}
  assert.equal(foldStacks([kernelOnly, userOnly, unmarked], {delimiter: '-'}), 'main;read 5\nworker_thread;schedule 1\n')
})

test('folded: identical stacks are summed, empty counts dropped, lines sorted by stack text', () => {
  const out = foldStacks([
    {frames: ['b', 'root'], count: 2},
    {frames: ['a', 'root'], count: 1},
    {frames: ['b', 'root'], count: 3},
    {frames: ['Z', 'root'], count: 7},
    {frames: ['c', 'root'], count: 0},
  ])
  // Code-unit order: upper case before lower case whatever the locale.
  assert.equal(out, 'root;Z 7\nroot;a 1\nroot;b 5\n')
})

test('folded: count order is ascending as bcc prints, ties by stack text', () => {
  const out = foldStacks(
    [
      {frames: ['x'], count: 4},
      {frames: ['b'], count: 1},
      {frames: ['a'], count: 1},
      {frames: ['y'], count: 2},
    ],
    {order: 'count'},
  )
  assert.equal(out, 'a 1\nb 1\ny 2\nx 4\n')
})

test('folded: the same samples in any order give the same text', () => {
  const samples = [
    {frames: ['f', 'g', 'main'], count: 3},
    {frames: ['h', 'main'], count: 1},
    {frames: ['f', 'g', 'main'], count: 1},
    {frames: ['k_[k]', 'main'], count: 9},
  ]
  const a = foldStacks(samples)
  assert.equal(foldStacks([...samples].reverse()), a)
  assert.equal(foldStacks([samples[2]!, samples[0]!, samples[3]!, samples[1]!]), a)
})

test('folded: names cannot break the format', () => {
  const out = foldStacks([{frames: ['operator<<(std::ostream&, char const*)', 'a;b', 'two\nlines'], count: 1}])
  assert.equal(out, 'two lines;a:b;operator<<(std::ostream&, char const*) 1\n')
  assert.deepEqual(parseFolded(out), [{frames: ['two lines', 'a:b', 'operator<<(std::ostream&, char const*)'], count: 1}])
})

test('parseFolded reads back what foldStacks writes and skips junk', () => {
  const text = foldStacks([sample], {delimiter: '-'}) + '\n# comment\nno-count\nmain;f 12\n'
  assert.deepEqual(parseFolded(text), [
    {frames: ['cat', 'main', '__libc_open64', '-', '__x64_sys_openat', 'do_sys_openat2'], count: 5},
    {frames: ['main', 'f'], count: 12},
  ])
})

test('folded: nothing in, nothing out', () => {
  assert.equal(foldStacks([]), '')
  assert.deepEqual(parseFolded(''), [])
})
