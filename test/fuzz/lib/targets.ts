// The host fuzz targets: how a case is made from a PRNG, checked, and
// stored as a regression file.

import {checkFrameCase, frameCase, type FrameCase} from './frames.js'
import {checkObject, objectCase, prepareCorpus, type CorpusObject} from './objects.js'
import {type Prng} from './prng.js'

export type TargetName = 'frames' | 'objects'
export const TARGETS: readonly TargetName[] = ['frames', 'objects']

/** What a target needs besides the PRNG: the objects to mutate. */
export interface TargetContext {
  corpus: CorpusObject[]
}

export interface Target {
  /** Regression files of this target end so. */
  ext: string
  make(rng: Prng, ctx: TargetContext): Buffer
  check(input: Buffer): void
}

export const targets: Readonly<Record<TargetName, Target>> = {
  frames: {
    ext: 'json',
    make: (rng) => Buffer.from(JSON.stringify(frameCase(rng)) + '\n'),
    check: (input) => checkFrameCase(JSON.parse(input.toString('utf8')) as FrameCase),
  },
  objects: {
    ext: 'o',
    make: (rng, ctx) => objectCase(rng, ctx.corpus),
    check: (input) => checkObject(input),
  },
}

export function makeContext(corpus: readonly {name: string; bytes: Buffer}[]): TargetContext {
  return {corpus: prepareCorpus(corpus)}
}
