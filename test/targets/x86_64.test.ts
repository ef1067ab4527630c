/**
 * An x86_64 target with kprobes and a 6.1 kernel (this host has neither):
 * Debian's amd64 cloud kernel under QEMU (TCG).
 */
import {guestSuite} from './suite.js'

await guestSuite('x86_64')
