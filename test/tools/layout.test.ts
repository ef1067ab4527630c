// Each tool's event record is declared twice: as a C struct in
// bpf-programs/<tool>.h and as a field → [offset, kind] table in
// src/tools/<tool>/event.ts. These tests hold the table against the struct's
// BTF in the compiled object, so changing one without the other fails here.
import assert from 'node:assert/strict'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, it} from 'node:test'
import {compileBpf} from '../../src/compile/index.js'
import {parseObject, type Btf, type BtfComposite} from '../../src/object/index.js'
import {EXEC_EVENT} from '../../src/tools/execsnoop/event.js'
import {OPEN_EVENT} from '../../src/tools/opensnoop/event.js'
import type {FieldKind, RecordLayout} from '../../src/tools/record-layout.js'
import {REPO} from './helpers/programs.js'

const BPF_PROGRAMS = join(REPO, 'bpf-programs')

async function objectBtf(source: string | {code: string; dir: string}): Promise<Btf> {
  const {object} = await compileBpf({source, arch: 'x86'})
  const btf = parseObject(object).btf
  assert.ok(btf, 'the object carries BTF')
  return btf
}

/** What a member's C type is, in the terms of FieldKind. */
function describeMember(btf: Btf, typeId: number): {int?: {size: number; signed: boolean}; array?: {nelems: number; elemSize: number}} {
  const t = btf.type(btf.resolve(typeId))
  if (t.kind === 'int') return {int: {size: t.size, signed: t.signed}}
  if (t.kind === 'array') return {array: {nelems: t.nelems, elemSize: btf.sizeof(t.type)}}
  return {}
}

const INTS: Record<string, {size: number; signed: boolean}> = {
  u8: {size: 1, signed: false},
  u16: {size: 2, signed: false},
  u32: {size: 4, signed: false},
  s32: {size: 4, signed: true},
  u64: {size: 8, signed: false},
  s64: {size: 8, signed: true},
}

/** Every way the layout and the struct disagree; empty when they agree. */
function layoutMismatches(layout: RecordLayout, btf: Btf): string[] {
  const t = btf.find(layout.struct, 'struct') as BtfComposite | undefined
  if (!t) return [`struct ${layout.struct} is not in the object's BTF`]
  const problems: string[] = []
  const members = new Map(t.members.map((m, i) => [m.name, {...m, index: i}]))
  for (const [name, [offset, kind]] of Object.entries(layout.fields) as [string, readonly [number, FieldKind]][]) {
    const m = members.get(name)
    if (!m) {
      problems.push(`${name}: not a member of struct ${layout.struct}`)
      continue
    }
    if (m.bitfieldSize !== 0 || m.bitOffset % 8 !== 0) problems.push(`${name}: a bitfield in C`)
    const cOffset = m.bitOffset / 8
    if (cOffset !== offset) problems.push(`${name}: offset ${offset} in TypeScript, ${cOffset} in C`)
    const c = describeMember(btf, m.type)
    if (kind === 'tail') {
      if (!c.array) problems.push(`${name}: the tail is not an array in C`)
      if (m.index !== t.members.length - 1) problems.push(`${name}: the tail is not the last member in C`)
      if (layout.headerSize !== cOffset) problems.push(`headerSize ${layout.headerSize} is not the tail's offset ${cOffset}`)
    } else if (typeof kind === 'object') {
      if (!c.array || c.array.elemSize !== 1) problems.push(`${name}: not a char array in C`)
      else if (c.array.nelems !== kind.chars) problems.push(`${name}: ${kind.chars} chars in TypeScript, ${c.array.nelems} in C`)
    } else {
      const want = INTS[kind]!
      if (!c.int) problems.push(`${name}: ${kind} in TypeScript, not an integer in C`)
      else if (c.int.size !== want.size || c.int.signed !== want.signed) {
        problems.push(`${name}: ${kind} in TypeScript, ${c.int.signed ? 's' : 'u'}${c.int.size * 8} in C`)
      }
    }
  }
  // A C member the decoder does not know shifts what follows it; only padding may be left out.
  for (const m of t.members) {
    if (!(m.name in layout.fields) && !/^_*pad\d*$/.test(m.name)) problems.push(`${m.name}: in C but not in TypeScript`)
  }
  if (!Object.values(layout.fields).some(([, kind]) => kind === 'tail')) problems.push('the layout declares no tail')
  return problems
}

/** The tool's header with one edit, compiled on its own. */
async function editedHeaderBtf(header: string, edit: (text: string) => string, struct: string): Promise<Btf> {
  const text = readFileSync(join(BPF_PROGRAMS, header), 'utf8')
  const edited = edit(text)
  assert.notEqual(edited, text, 'the edit applies to the header')
  return objectBtf({code: `#include <linux/types.h>\n${edited}\nstruct ${struct} layout_probe;\n`, dir: BPF_PROGRAMS})
}

const TOOLS = [
  {tool: 'opensnoop', layout: OPEN_EVENT, header: 'opensnoop.h'},
  {tool: 'execsnoop', layout: EXEC_EVENT, header: 'execsnoop.h'},
] as const

describe('event layouts', () => {
  for (const {tool, layout} of TOOLS) {
    it(`${tool}: the TypeScript layout of struct ${layout.struct} matches its BTF`, async () => {
      const btf = await objectBtf(join(BPF_PROGRAMS, `${tool}.bpf.c`))
      assert.deepEqual(layoutMismatches(layout, btf), [])
    })
  }

  it('notices a header changed without the decoder', async () => {
    // A field added before the path shifts the path and the header size.
    const added = await editedHeaderBtf('opensnoop.h', (h) => h.replace('__s32 ret;', '__s32 ret;\n\t__u32 gid;\n\t__u32 pad2;'), 'open_event')
    const problems = layoutMismatches(OPEN_EVENT, added)
    assert.ok(problems.some((p) => p.startsWith('gid:')), problems.join('\n'))
    assert.ok(problems.some((p) => p.startsWith('flags: offset 24 in TypeScript, 32 in C')), problems.join('\n'))
    assert.ok(problems.some((p) => p.startsWith('headerSize 60 is not')), problems.join('\n'))
    // Two fields swapped: same size, other offsets.
    const swapped = await editedHeaderBtf('execsnoop.h', (h) => h.replace('__u32 pid;\n\t__u32 ppid;', '__u32 ppid;\n\t__u32 pid;'), 'exec_event')
    assert.deepEqual(layoutMismatches(EXEC_EVENT, swapped).sort(), ['pid: offset 8 in TypeScript, 12 in C', 'ppid: offset 12 in TypeScript, 8 in C'])
    // A longer name array.
    const longer = await editedHeaderBtf('execsnoop.h', (h) => h.replace('#define EXECSNOOP_COMM_LEN 16', '#define EXECSNOOP_COMM_LEN 32'), 'exec_event')
    const p3 = layoutMismatches(EXEC_EVENT, longer)
    assert.ok(p3.includes('comm: 16 chars in TypeScript, 32 in C'), p3.join('\n'))
    assert.ok(p3.includes('headerSize 48 is not the tail\'s offset 64'), p3.join('\n'))
    // A signedness change.
    const unsigned = await editedHeaderBtf('opensnoop.h', (h) => h.replace('__s32 ret;', '__u32 ret;'), 'open_event')
    assert.deepEqual(layoutMismatches(OPEN_EVENT, unsigned), ['ret: s32 in TypeScript, u32 in C'])
  })
})
