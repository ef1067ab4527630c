// biolatency's pure parts: tracepoint formats, rwbs → bcc's flag names,
// key layout, histograms by section, bcc's text and JSON.
import assert from 'node:assert/strict'
import {dirname, join, resolve} from 'node:path'
import {fileURLToPath} from 'node:url'
import {describe, it} from 'node:test'
import {compileBpf} from '../../src/compile/index.js'
import {parseObject, type BtfComposite} from '../../src/object/index.js'
import {devName, kernelDev, readDisks} from '../../src/tools/biolatency/disks.js'
import {flagsFromRwbs} from '../../src/tools/biolatency/flags.js'
import {formatExtension, formatHistograms, histogramJson} from '../../src/tools/biolatency/format.js'
import {HIST_KEY, histograms, total} from '../../src/tools/biolatency/hist.js'
import {checkOptions, BiolatencyUsageError} from '../../src/tools/biolatency/options.js'
import {fieldOffset, parseTracepointFormat, TracepointFormatError} from '../../src/tools/biolatency/tp-format.js'

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../../..')

// block_rq_complete as a 6.x kernel describes it.
const COMPLETE_FORMAT = `name: block_rq_complete
ID: 2107
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;
\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;

\tfield:dev_t dev;\toffset:8;\tsize:4;\tsigned:0;
\tfield:sector_t sector;\toffset:16;\tsize:8;\tsigned:0;
\tfield:unsigned int nr_sector;\toffset:24;\tsize:4;\tsigned:0;
\tfield:int error;\toffset:28;\tsize:4;\tsigned:1;
\tfield:unsigned short ioprio;\toffset:32;\tsize:2;\tsigned:0;
\tfield:char rwbs[10];\toffset:34;\tsize:10;\tsigned:0;
\tfield:__data_loc char[] cmd;\toffset:44;\tsize:4;\tsigned:0;

print fmt: "%d,%d %s (%s) %llu + %u %s,%u,%u [%d]", ...
`

function key(dev: number, slot: number, rwbs = ''): Buffer {
  const b = Buffer.alloc(16)
  b.writeUInt32LE(dev, 0)
  b.writeUInt32LE(slot, 4)
  b.write(rwbs, 8)
  return b
}

function u64(n: number): Buffer {
  const b = Buffer.alloc(8)
  b.writeBigUInt64LE(BigInt(n))
  return b
}

describe('biolatency pieces', () => {
  it('reads field offsets from a tracefs format file', () => {
    const f = parseTracepointFormat(COMPLETE_FORMAT)
    assert.deepEqual(f.get('dev'), {offset: 8, size: 4, signed: false})
    assert.deepEqual(f.get('rwbs'), {offset: 34, size: 10, signed: false})
    assert.deepEqual(f.get('cmd'), {offset: 44, size: 4, signed: false})
    assert.equal(fieldOffset(f, 'sector', [8], 'block_rq_complete'), 16)
    assert.throws(() => fieldOffset(f, 'bytes', [4], 'block_rq_complete'), TracepointFormatError)
    assert.throws(() => fieldOffset(f, 'dev', [8], 'block_rq_complete'), /4 bytes, not 8/)
  })

  it('names I/O flags from rwbs as bcc names cmd_flags', () => {
    assert.equal(flagsFromRwbs('R'), 'Read')
    assert.equal(flagsFromRwbs('WS'), 'Sync-Write')
    assert.equal(flagsFromRwbs('RA'), 'ReadAhead-Read')
    assert.equal(flagsFromRwbs('RM'), 'Metadata-Read')
    assert.equal(flagsFromRwbs('WFS'), 'ForcedUnitAccess-Sync-Write')
    assert.equal(flagsFromRwbs('FWFSM'), 'ForcedUnitAccess-Metadata-Sync-Write')
    assert.equal(flagsFromRwbs('F'), 'Flush')
    assert.equal(flagsFromRwbs('FF'), 'Flush')
    assert.equal(flagsFromRwbs('DS'), 'Sync-Discard')
    assert.equal(flagsFromRwbs('DE'), 'SecureErase')
    assert.equal(flagsFromRwbs('N'), 'Unknown')
  })

  it('struct hist_key matches its TypeScript layout in both variants', async () => {
    for (const defines of [undefined, {BIOLATENCY_NO_BTF: true}]) {
      const {object} = await compileBpf({source: join(REPO, 'bpf-programs', 'biolatency.bpf.c'), arch: 'x86', defines})
      const t = parseObject(object).btf!.find('hist_key', 'struct') as BtfComposite
      assert.equal(t.size, HIST_KEY.headerSize)
      assert.deepEqual(t.members.map((m) => [m.name, m.bitOffset / 8]), Object.entries(HIST_KEY.fields).map(([n, [o]]) => [n, o]))
    }
  })

  it('device numbers as the tracepoints record them', async () => {
    assert.equal(kernelDev(254, 0), 254 << 20)
    assert.equal(devName(kernelDev(8, 17)), '8,17')
    const disks = await readDisks({
      listDir: async () => [{type: 'link', name: 'vda'}, {type: 'link', name: 'loop0'}],
      readWholeFile: async (p) => Buffer.from(p.includes('vda') ? '254:0\n' : '7:0\n'),
    })
    assert.deepEqual([...disks], [[kernelDev(254, 0), 'vda'], [kernelDev(7, 0), 'loop0']])
  })

  it('-D and -F are exclusive', () => {
    const o = {timestamp: false, queued: false, milliseconds: false, perDisk: true, perFlag: true, extended: false}
    assert.throws(() => checkOptions(o), BiolatencyUsageError)
  })
})

describe('biolatency output', () => {
  const disks = new Map([[kernelDev(254, 0), 'vda']])
  const entries = [
    {key: key(kernelDev(254, 0), 7, 'WS'), value: u64(30)},
    {key: key(kernelDev(254, 0), 8, 'R'), value: u64(10)},
    {key: key(kernelDev(8, 0), 1, 'R'), value: u64(2)},
  ]

  it('sums sections and prints them as bcc', () => {
    const byDisk = histograms(entries, 'disk', disks)
    assert.deepEqual(byDisk.map((h) => [h.section?.value, total(h)]), [['8,0', 2n], ['vda', 40n]])
    const text = formatHistograms(byDisk, 'usecs')
    assert.equal(
      text,
      [
        '',
        'disk = 8,0',
        '     usecs               : count     distribution',
        '         0 -> 1          : 2        |****************************************|',
        '',
        'disk = vda',
        '     usecs               : count     distribution',
        '         0 -> 1          : 0        |                                        |',
        '         2 -> 3          : 0        |                                        |',
        '         4 -> 7          : 0        |                                        |',
        '         8 -> 15         : 0        |                                        |',
        '        16 -> 31         : 0        |                                        |',
        '        32 -> 63         : 0        |                                        |',
        '        64 -> 127        : 30       |****************************************|',
        '       128 -> 255        : 10       |*************                           |',
        '',
      ].join('\n'),
    )
    const byFlags = histograms(entries, 'flags', disks)
    assert.deepEqual(byFlags.map((h) => h.section?.value), ['Read', 'Sync-Write'])
    const one = histograms(entries, undefined, disks)
    assert.equal(one.length, 1)
    assert.equal(one[0]!.section, undefined)
    assert.equal(total(one[0]!), 42n)
    assert.equal(formatHistograms([], 'msecs'), '')
  })

  it('prints -e as bcc, truncating like %ld', () => {
    assert.equal(formatExtension({totalNs: 12_345_678n, count: 10n}, 'usecs'), '\navg = 1234 usecs, total: 12345 usecs, count: 10\n\n')
    assert.equal(formatExtension({totalNs: 12_345_678n, count: 10n}, 'msecs'), '\navg = 1 msecs, total: 12 msecs, count: 10\n\n')
    assert.equal(formatExtension({totalNs: 0n, count: 0n}, 'usecs'), '')
  })

  it('JSON carries bcc\'s -j fields and the same buckets', () => {
    const [h] = histograms(entries, 'disk', disks).slice(1)
    const j = JSON.parse(JSON.stringify(histogramJson(h!, 'usecs', '2024-01-02 03:04:05')))
    assert.equal(j.ts, '2024-01-02 03:04:05')
    assert.equal(j.val_type, 'usecs')
    assert.equal(j.disk, 'vda')
    assert.equal(j.data.length, 8)
    assert.deepEqual(j.data[0], {'interval-start': 0, 'interval-end': 1, count: 0})
    assert.deepEqual(j.data[6], {'interval-start': 64, 'interval-end': 127, count: 30})
    assert.deepEqual(j.data[7], {'interval-start': 128, 'interval-end': 255, count: 10})
  })
})
