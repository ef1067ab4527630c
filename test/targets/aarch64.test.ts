/**
 * An arm64 target from an x86 host: Debian's arm64 cloud kernel under QEMU
 * (TCG), bpfd for aarch64, programs compiled for arm64 on this host.
 */
import {guestSuite} from './suite.js'

await guestSuite('aarch64')
