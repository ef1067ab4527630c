// Which biolatency variant a target gets, from what its hello says, and
// where its BTF puts the struct request among the tracepoints' arguments.
import assert from 'node:assert/strict'
import {existsSync, readFileSync} from 'node:fs'
import {describe, it} from 'node:test'
import {Btf, kernelVersionCode, type BtfType} from '../../src/object/index.js'
import {biolatencyPrograms, type BiolatencyOptions} from '../../src/tools/biolatency/options.js'
import {requestArg, requestArgs} from '../../src/tools/biolatency/request-args.js'
import {chooseVariant} from '../../src/tools/biolatency/variant.js'

const VMLINUX = '/sys/kernel/btf/vmlinux'

describe('biolatency variant', () => {
  it('tp_btf where the kernel has BTF and is 5.5 or later', () => {
    for (const release of ['5.5.0', '6.1.0-50-cloud-arm64', '6.18.44-fc-v595']) {
      const v = chooseVariant({btf: true, release}, false)
      assert.equal(v.btf, true, release)
      assert.equal(v.description, 'BTF tracepoints (tp_btf), requests keyed by struct request, disk and flags read from it')
    }
  })

  it('the tracepoints otherwise, saying why', () => {
    const why = (target: {btf: boolean; release: string}, assumeNoBtf = false) => {
      const v = chooseVariant(target, assumeNoBtf)
      assert.equal(v.btf, false)
      return /^tracepoints \((.*)\), requests keyed by dev and sector at the record offsets tracefs gives$/.exec(v.description)?.[1]
    }
    assert.equal(why({btf: false, release: '6.1.0'}), 'the target has no kernel BTF')
    assert.equal(why({btf: true, release: '5.4.254-android12'}), 'kernel 5.4.254-android12 predates tp_btf (5.5)')
    assert.equal(why({btf: true, release: '6.1.0'}, true), 'BPFTOOLS_ASSUME_NO_BTF=1')
    assert.equal(why({btf: true, release: 'custom'}), "kernel release 'custom' has no version number")
  })
})

/** A kernel BTF holding only `btf_trace_<name>` typedefs with these argument lists (after the private data pointer). */
function tracepointBtf(tracepoints: Record<string, ('request' | 'request_queue' | 'int')[]>): Btf {
  const types: BtfType[] = [
    {kind: 'int', id: 1, name: 'int', size: 4, signed: true, char: false, bool: false, bitOffset: 0, bits: 32},
    {kind: 'ptr', id: 2, name: '', type: 0}, // void *
    {kind: 'fwd', id: 3, name: 'request', union: false},
    {kind: 'fwd', id: 4, name: 'request_queue', union: false},
    {kind: 'ptr', id: 5, name: '', type: 3},
    {kind: 'ptr', id: 6, name: '', type: 4},
  ]
  const argType = {int: 1, request: 5, request_queue: 6}
  for (const [name, args] of Object.entries(tracepoints)) {
    const id = types.length + 1
    types.push({kind: 'func_proto', id, name: '', returnType: 0, params: [{name: '', type: 2}, ...args.map((a) => ({name: '', type: argType[a]}))]})
    types.push({kind: 'ptr', id: id + 1, name: '', type: id})
    types.push({kind: 'typedef', id: id + 2, name: `btf_trace_${name}`, type: id + 1})
  }
  return Btf.fromTypes(types)
}

describe('biolatency request arguments', () => {
  it('finds the request after the request_queue that kernels before 5.11 pass first', () => {
    const old = tracepointBtf({
      block_rq_insert: ['request_queue', 'request'],
      block_rq_issue: ['request_queue', 'request'],
      block_rq_complete: ['request', 'int', 'int'],
    })
    assert.deepEqual(requestArgs(old), {insert: 1, issue: 1})
    const now = tracepointBtf({block_rq_insert: ['request'], block_rq_issue: ['request'], block_rq_complete: ['request', 'int', 'int']})
    assert.deepEqual(requestArgs(now), {insert: 0, issue: 0})
  })

  it('loads the programs that read the request where the target passes it', () => {
    const o = (queued: boolean): BiolatencyOptions => ({timestamp: false, queued, milliseconds: false, perDisk: false, perFlag: false, extended: false})
    const sorted = (s: Set<string>) => [...s].sort()
    assert.deepEqual(sorted(biolatencyPrograms(o(false), {insert: 0, issue: 0})), ['block_rq_complete', 'block_rq_issue'])
    assert.deepEqual(sorted(biolatencyPrograms(o(true), {insert: 1, issue: 1})), ['block_rq_complete', 'block_rq_insert_q', 'block_rq_issue_q'])
    // The tracepoint variant has one program per tracepoint.
    assert.deepEqual(sorted(biolatencyPrograms(o(true), undefined)), ['block_rq_complete', 'block_rq_insert', 'block_rq_issue'])
  })

  it('says why when the BTF tracepoints cannot be used', () => {
    assert.equal(requestArgs(tracepointBtf({block_rq_issue: ['request'], block_rq_complete: ['request']})), "the kernel's BTF has no block_rq_insert tracepoint")
    assert.equal(requestArg(tracepointBtf({block_rq_issue: ['request_queue', 'int']}), 'block_rq_issue'), 'block_rq_issue has no struct request argument')
    const odd = tracepointBtf({block_rq_insert: ['request'], block_rq_issue: ['request'], block_rq_complete: ['int', 'request']})
    assert.equal(requestArgs(odd), "block_rq_complete's struct request is argument 2, not the first")
  })

  // From 5.11 on (and on some 5.10 stable kernels) the request comes first.
  const release = readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim()
  const skip = !existsSync(VMLINUX) ? 'no kernel BTF' : kernelVersionCode(release) < kernelVersionCode('5.11') ? `kernel ${release} is older than 5.11` : false
  it('reads this machine\'s kernel BTF', {skip}, () => {
    assert.deepEqual(requestArgs(Btf.parse(readFileSync(VMLINUX))), {insert: 0, issue: 0})
  })
})
