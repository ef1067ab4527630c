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

test('folded: with a kernel/user split the delimiter is there even when one side is empty, as bcc stackcount -d', () => {
  const kernelOnly = {frames: ['schedule', 'worker_thread', 'kworker/0:1'], kernelFrames: 2, count: 1}
  const userOnly = {frames: ['read', 'main', 'cat'], kernelFrames: 0, count: 2}
  const neither = {frames: ['cat'], kernelFrames: 0, count: 4}
  const unsplit = {frames: ['read', 'main'], count: 3}
  assert.equal(
    foldStacks([kernelOnly, userOnly, neither, unsplit], {delimiter: '-', order: 'count'}),
    ['kworker/0:1;-;worker_thread;schedule 1', 'cat;main;read;- 2', 'main;read 3', 'cat;- 4', ''].join('\n'),
  )
  // No delimiter asked for: none, whatever the split.
  assert.equal(foldStacks([userOnly, kernelOnly], {order: 'count'}), 'kworker/0:1;worker_thread;schedule 1\ncat;main;read 2\n')
})

test('folded: an empty frame is printed as one, a stack of nothing is a bare count', () => {
  const out = foldStacks(
    [
      {frames: ['ksys_read', 'do_syscall_64', ''], kernelFrames: 2, count: 3},
      {frames: [''], kernelFrames: 0, count: 1},
    ],
    {order: 'count'},
  )
  assert.equal(out, ' 1\n;do_syscall_64;ksys_read 3\n')
  assert.deepEqual(parseFolded(out), [
    {frames: [''], count: 1},
    {frames: ['', 'do_syscall_64', 'ksys_read'], count: 3},
  ])
})

test('folded: merge false gives one line per sample, equal stacks included, ascending count', () => {
  const samples = [
    {frames: ['read', 'main', 'sh'], count: 4},
    {frames: ['read', 'main', 'sh'], count: 2},
    {frames: ['write', 'main', 'sh'], count: 2},
    {frames: ['read', 'main', 'sh'], count: 0},
  ]
  assert.equal(foldStacks(samples, {order: 'count', merge: false}), 'sh;main;read 2\nsh;main;write 2\nsh;main;read 4\n')
  assert.equal(foldStacks(samples, {order: 'count'}), 'sh;main;write 2\nsh;main;read 6\n')
})

test('folded: by default identical stacks are summed, empty counts dropped, lines sorted by stack text', () => {
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
  const text = foldStacks([sample], {delimiter: '-'}) + '\n# comment\nno-count\nmain;f 12\nmain;g -3\nmain;h 1e3\nmain;k 2.5\n'
  assert.deepEqual(parseFolded(text), [
    {frames: ['cat', 'main', '__libc_open64', '-', '__x64_sys_openat', 'do_sys_openat2'], count: 5},
    {frames: ['main', 'f'], count: 12},
    {frames: ['main', 'k'], count: 2.5},
  ])
})

test('folded: nothing in, nothing out', () => {
  assert.equal(foldStacks([]), '')
  assert.deepEqual(parseFolded(''), [])
})
