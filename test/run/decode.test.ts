/**
 * The pure parts of `bpftools run`: values decoded through BTF, map tables,
 * record lines, and --set text turned into the global's C type.
 */
import assert from 'node:assert/strict'
import {before, describe, it} from 'node:test'
import {getGlobalBytes, type MapSpec, type ObjectSpec} from '../../src/object/index.js'
import {decodeValue, formatValue, hex, Symbolic, toJson} from '../../src/tools/run/btf-value.js'
import {formatMapContents, mapContentsJson} from '../../src/tools/run/map-contents.js'
import {applySetFlags, parseAttachFlags, RunOptionError} from '../../src/tools/run/options.js'
import {recordLine, traceLine, usesPrintk} from '../../src/tools/run/run.js'
import {haveTool} from '../fixtures/fixtures.js'
import {fixtureSpec} from '../loader/env.js'

describe('bpftools run: decoding and options', {skip: haveTool('clang') ? undefined : 'clang is not installed'}, () => {
  let spec: ObjectSpec
  let data: MapSpec
  before(async () => {
    spec = await fixtureSpec('types.bpf.c')
    data = spec.maps.find((m) => m.kind === 'data')!
  })

  it('decodes a struct of every common C type through BTF', () => {
    const v = data.variables!.find((x) => x.name === 'sample')!
    const value = decodeValue(spec.btf, v.btfTypeId, data.initialData!.subarray(v.offset, v.offset + v.size))
    assert.deepEqual(toJson(value), {
      flag: true,
      colour: 'GREEN',
      name: 'bpf',
      negative: -42,
      big: '18364758544493064720',
      low: 5,
      high: -3,
      in: {a: 513, b: -1},
      list: [1, 2, 3],
      ptr: '0x0',
      u: {word: 0x01020304, bytes: [4, 3, 2, 1]},
      raw: [255, 0, 127, 128],
    })
    assert.equal(
      formatValue(value),
      '{flag: true, colour: GREEN, name: "bpf", negative: -42, big: 18364758544493064720, low: 5, high: -3, in: {a: 513, b: -1}, list: [1, 2, 3], ptr: 0x0, u: {word: 16909060, bytes: [4, 3, 2, 1]}, raw: [255, 0, 127, 128]}',
    )
  })

  it('keeps bytes it has no type for as hex', () => {
    const bytes = Buffer.from([0x0a, 0x0b, 0xff])
    assert.equal(decodeValue(undefined, undefined, bytes), bytes)
    assert.equal(formatValue(bytes), '0a 0b ff')
    assert.equal(toJson(bytes), '0a 0b ff')
    assert.equal(hex(Buffer.alloc(0)), '')
  })

  it('prints a table per map and one JSON object per map', () => {
    const entries = {map: 'counts', type: 'hash', entries: [{key: 7n, value: {pid: 7n, comm: 'sh'}}, {key: 1234n, value: {pid: 1234n, comm: 'node'}}]}
    assert.equal(formatMapContents(entries), 'map counts (hash, 2 entries):\n  KEY   VALUE\n  7     {pid: 7, comm: "sh"}\n  1234  {pid: 1234, comm: "node"}\n')
    assert.deepEqual(mapContentsJson(entries), {map: 'counts', type: 'hash', entries: [{key: 7, value: {pid: 7, comm: 'sh'}}, {key: 1234, value: {pid: 1234, comm: 'node'}}]})
    const percpu = {map: 'hits', type: 'percpu_array', perCpu: true, entries: [{key: 0n, value: [1n, 2n]}], zeroEntries: 3}
    assert.equal(formatMapContents(percpu), 'map hits (percpu_array, values per CPU, 1 entry, 3 zero entries not shown):\n  KEY  VALUE\n  0    [1, 2]\n')
    const globals = {map: '.bss', type: 'global data', variables: [{name: 'total', value: 3n}, {name: 'addr', value: new Symbolic('0xffff')}]}
    assert.equal(formatMapContents(globals), 'map .bss (global data):\n  NAME   VALUE\n  total  3\n  addr   0xffff\n')
    assert.deepEqual(mapContentsJson(globals), {map: '.bss', type: 'global data', variables: {total: 3, addr: '0xffff'}})
    assert.equal(formatMapContents({map: 'm', type: 'hash', error: 'EPERM'}), 'map m (hash):\n  cannot read it: EPERM\n')
  })

  it('prints records as hex or base64 JSON, trace pipe lines as text', () => {
    assert.equal(recordLine('events', Buffer.from([1, 2, 0xab]), false), '[events] 01 02 ab')
    assert.equal(recordLine('events', Buffer.from([1, 2, 0xab]), true), '{"map":"events","data":"AQKr"}')
    assert.equal(traceLine(Buffer.from('   sh-12 [001] ...: bpf_trace_printk: hi'), false), '[trace_pipe] sh-12 [001] ...: bpf_trace_printk: hi')
    assert.equal(traceLine(Buffer.from('x'), true), '{"trace_pipe":"x"}')
  })

  it('turns --set text into bools, enumerators, integers and strings', async () => {
    const s = await fixtureSpec('types.bpf.c')
    applySetFlags(s, ['opt_flag=true', 'opt_colour=BLUE', 'opt_name=abc', 'opt_level=-0x10', 'opt_mask=18446744073709551615'])
    assert.deepEqual(getGlobalBytes(s, 'opt_flag'), Buffer.from([1]))
    assert.equal(getGlobalBytes(s, 'opt_colour').readUInt32LE(0), 6)
    assert.equal(getGlobalBytes(s, 'opt_name').toString('latin1'), 'abc\0\0\0\0\0')
    assert.equal(getGlobalBytes(s, 'opt_level').readInt32LE(0), -16)
    assert.equal(getGlobalBytes(s, 'opt_mask').readBigUInt64LE(0), 2n ** 64n - 1n)
    applySetFlags(s, ['opt_colour=0'])
    assert.equal(getGlobalBytes(s, 'opt_colour').readUInt32LE(0), 0)
    const fails = (flag: string, message: RegExp) => assert.throws(() => applySetFlags(s, [flag]), (e: unknown) => e instanceof RunOptionError && message.test(e.message))
    fails('opt_flag=maybe', /^--set opt_flag=maybe: opt_flag is const volatile _Bool; give true or false$/)
    fails('opt_colour=PURPLE', /give an integer or an enumerator name/)
    fails('opt_name=much-too-long', /string of 13 bytes, the variable holds 8/)
    fails('opt_inner=1', /opt_inner is const volatile struct inner; bpftools run sets integers, bools, enums and char arrays only/)
    fails('opt_level', /expected NAME=VALUE/)
    fails('missing=1', /no global variable of that name/)
  })

  it('parses --attach and spots bpf_printk', async () => {
    assert.deepEqual(parseAttachFlags(['a=tracepoint/x/y', 'b=uprobe//bin/sh:main']), {a: 'tracepoint/x/y', b: 'uprobe//bin/sh:main'})
    assert.throws(() => parseAttachFlags(['tracepoint/x/y']), RunOptionError)
    assert.throws(() => parseAttachFlags(['a=']), RunOptionError)
    assert.equal(usesPrintk(spec), false)
    assert.equal(usesPrintk(await fixtureSpec('printk.bpf.c')), true)
  })
})
