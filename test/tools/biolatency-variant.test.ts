// Which biolatency variant a target gets, from what its hello says.
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {chooseVariant} from '../../src/tools/biolatency/variant.js'

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
