/**
 * A program the verifier rejects: the error names the program, carries the
 * verifier's complaint and the C source line it was about, and the loader
 * leaves nothing behind on the target.
 */
import assert from 'node:assert/strict'
import {execFileSync} from 'node:child_process'
import {after, describe, it} from 'node:test'
import {loadCollection} from '../../src/loader/collection.js'
import {VerifierError, verifierComplaint} from '../../src/loader/errors.js'
import {haveTool} from '../fixtures/fixtures.js'
import {connectTo, destroyLeftovers} from '../remote/bpfd-env.js'
import {fixtureSpec, loaderUnavailable} from './env.js'

after(destroyLeftovers)

describe('verifier rejections on the real kernel', {skip: loaderUnavailable()}, () => {
  it('reports the complaint and the source line of an out-of-bounds map value read', async () => {
    const client = await connectTo('local')
    try {
      const spec = await fixtureSpec('reject.bpf.c')
      const error = await loadCollection(client, spec).then(() => undefined, (e: unknown) => e)
      assert.ok(error instanceof VerifierError, String(error))
      assert.equal(error.program, 'read_past_end')
      assert.equal(error.errname, 'EACCES')
      assert.match(error.complaint ?? '', /^invalid access to map value, value_size=32 off=40 size=8$/)
      assert.equal(error.source, 'reject.bpf.c:20: return v[5] == 42; /* it holds four */')
      const [first, second] = error.message.split('\n')
      assert.equal(first, "the kernel rejected program 'read_past_end' (EACCES): invalid access to map value, value_size=32 off=40 size=8")
      assert.equal(second, '  at reject.bpf.c:20: return v[5] == 42; /* it holds four */')
      // The kernel annotates its log with the same line from the line info sent with the program.
      assert.match(error.log, /^; return v\[5\] == 42; .* @ reject\.bpf\.c:20$/m)
      if (haveTool('bpftool')) {
        const maps = JSON.parse(execFileSync('bpftool', ['map', 'show', '--json'], {encoding: 'utf8'})) as {name?: string}[]
        assert.ok(!maps.some((m) => m.name === 'reject_vals'), 'the maps the loader created are freed')
      }
    } finally {
      await client.close()
    }
  })

  it('finds the complaint after the last instruction the verifier printed', () => {
    const log = [
      'func#0 @0',
      '0: R1=ctx() R10=fp0',
      '; x = *p; @ prog.bpf.c:9',
      '3: (61) r1 = *(u32 *)(r2 +0)',
      'R2 invalid mem access \'scalar\'',
      'processed 4 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0',
      '',
    ].join('\n')
    assert.deepEqual(verifierComplaint(log), {insn: 3, complaint: "R2 invalid mem access 'scalar'"})
    const e = new VerifierError('p', 'EACCES', log)
    assert.equal(e.source, 'prog.bpf.c:9: x = *p;', 'without line info of its own the kernel\'s annotation is used')
    assert.deepEqual(verifierComplaint('unknown func bpf_foo#999\nprocessed 0 insns'), {complaint: 'unknown func bpf_foo#999'})
  })
})
