// The BTF variant's CO-RE against the layout of a kernel older than any at
// hand (5.10-like: the disk in struct request's rq_disk, the operations in
// enum req_opf), so those branches are known to resolve; the branches for
// newer kernels must be the only ones left unresolved, which the verifier
// then prunes as it does the old ones on this machine's kernel.
import assert from 'node:assert/strict'
import {dirname, join, resolve} from 'node:path'
import {fileURLToPath} from 'node:url'
import {describe, it} from 'node:test'
import {compileBpf} from '../../src/compile/index.js'
import {Btf, findProgram, parseObject, relocateCore, type BtfType} from '../../src/object/index.js'

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../../..')

const int = (id: number, name: string, signed: boolean): BtfType => ({kind: 'int', id, name, size: 4, signed, char: false, bool: false, bitOffset: 0, bits: 32})
const member = (name: string, type: number, byte: number) => ({name, type, bitOffset: byte * 8, bitfieldSize: 0})

/** A 5.10-like kernel's struct request, request_queue and gendisk, and its block enums, at offsets unlike this machine's. */
const OLD_KERNEL = Btf.fromTypes([
  int(1, 'int', true),
  int(2, 'unsigned int', false),
  {kind: 'struct', id: 3, name: 'gendisk', size: 64, members: [member('major', 1, 0), member('first_minor', 1, 4)]},
  {kind: 'ptr', id: 4, name: '', type: 3},
  {kind: 'struct', id: 5, name: 'request_queue', size: 64, members: [member('queuedata', 4, 32)]},
  {kind: 'ptr', id: 6, name: '', type: 5},
  {kind: 'struct', id: 7, name: 'request', size: 288, members: [member('q', 6, 0), member('cmd_flags', 2, 24), member('rq_disk', 4, 168)]},
  {
    kind: 'enum', id: 8, name: 'req_opf', size: 4, signed: false,
    values: [['REQ_OP_READ', 0], ['REQ_OP_WRITE', 1], ['REQ_OP_FLUSH', 2], ['REQ_OP_DISCARD', 3], ['REQ_OP_SECURE_ERASE', 5]].map(([name, value]) => ({name: name as string, value: value as number})),
  },
  {
    kind: 'enum', id: 9, name: 'req_flag_bits', size: 4, signed: false,
    // Bit numbers moved as flags came and went; these differ from this machine's on purpose.
    values: [['__REQ_FAILFAST_DEV', 8], ['__REQ_SYNC', 12], ['__REQ_META', 13], ['__REQ_FUA', 18], ['__REQ_PREFLUSH', 19], ['__REQ_RAHEAD', 20]].map(([name, value]) => ({name: name as string, value: value as number})),
  },
])

describe('biolatency tp_btf CO-RE on an older kernel layout', () => {
  it('reads rq_disk, cmd_flags and the req_opf values; only the newer kernels\' fields stay unresolved', async () => {
    const {object} = await compileBpf({source: join(REPO, 'bpf-programs', 'biolatency.bpf.c'), arch: 'x86'})
    const spec = parseObject(object)
    const r = relocateCore(findProgram(spec, 'block_rq_complete'), spec.btf!, OLD_KERNEL)
    const value = (kind: string, access: string) => {
      const hits = r.results.filter((x) => x.kind === kind && x.access === access)
      assert.ok(hits.length > 0, `no ${kind} ${access} relocation`)
      assert.ok(hits.every((x) => x.resolved && x.targetValue === hits[0]!.targetValue), `${kind} ${access}: ${JSON.stringify(hits)}`)
      return hits[0]!.targetValue
    }
    assert.equal(value('FIELD_EXISTS', 'request___rq_disk.rq_disk'), 1)
    assert.equal(value('FIELD_BYTE_OFFSET', 'request___rq_disk.rq_disk'), 168)
    assert.equal(value('FIELD_BYTE_OFFSET', 'request.cmd_flags'), 24)
    assert.equal(value('FIELD_BYTE_OFFSET', 'gendisk.first_minor'), 4)
    assert.equal(value('ENUMVAL_EXISTS', 'enum req_op::REQ_OP_WRITE'), 0)
    assert.equal(value('ENUMVAL_VALUE', 'enum req_opf::REQ_OP_WRITE___opf'), 1)
    assert.equal(value('ENUMVAL_VALUE', 'enum req_opf::REQ_OP_SECURE_ERASE___opf'), 5)
    assert.equal(value('ENUMVAL_VALUE', 'enum req_flag_bits::__REQ_FAILFAST_DEV'), 8)
    assert.equal(value('ENUMVAL_VALUE', 'enum req_flag_bits::__REQ_SYNC'), 12)
    assert.equal(value('ENUMVAL_VALUE', 'enum req_flag_bits::__REQ_RAHEAD'), 20)
    const unresolved = [...new Set(r.poisoned.map((x) => `${x.kind} ${x.access}`))].sort()
    assert.deepEqual(unresolved, [
      'ENUMVAL_VALUE enum req_op::REQ_OP_DISCARD',
      'ENUMVAL_VALUE enum req_op::REQ_OP_FLUSH',
      'ENUMVAL_VALUE enum req_op::REQ_OP_READ',
      'ENUMVAL_VALUE enum req_op::REQ_OP_SECURE_ERASE',
      'ENUMVAL_VALUE enum req_op::REQ_OP_WRITE',
      'FIELD_BYTE_OFFSET request_queue.disk',
    ])
  })
})
