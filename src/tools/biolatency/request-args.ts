// Where the struct request is among a block BTF tracepoint's arguments,
// read from the target's BTF: block_rq_insert and block_rq_issue dropped a
// leading struct request_queue * in 5.11, and stable kernels took that back
// to 5.10.137, so a version number cannot tell.
import type {Btf, BtfFuncProto, BtfPtr, BtfRef} from '../../object/index.js'
import type {RequestArgs} from './options.js'

/**
 * The index of `struct request *` among `tracepoint`'s arguments, from its
 * `btf_trace_<tracepoint>` typedef (a pointer to a function whose first
 * parameter is the tracepoint's private data); a string says why not.
 */
export function requestArg(btf: Btf, tracepoint: string): number | string {
  const typedef = btf.find(`btf_trace_${tracepoint}`, 'typedef') as BtfRef | undefined
  if (!typedef) return `the kernel's BTF has no ${tracepoint} tracepoint`
  const ptr = btf.type(btf.resolve(typedef.type))
  const proto = ptr.kind === 'ptr' ? btf.type(btf.resolve((ptr as BtfPtr).type)) : ptr
  if (proto.kind !== 'func_proto') return `btf_trace_${tracepoint} is not a function pointer`
  const args = (proto as BtfFuncProto).params.slice(1)
  const at = args.findIndex((p) => {
    const t = btf.type(btf.resolve(p.type))
    if (t.kind !== 'ptr') return false
    const target = btf.type(btf.resolve((t as BtfPtr).type))
    return (target.kind === 'struct' || target.kind === 'fwd') && target.name === 'request'
  })
  return at < 0 ? `${tracepoint} has no struct request argument` : at
}

/** Both tracepoints' struct request argument, or why the BTF tracepoints cannot be used. */
export function requestArgs(btf: Btf): RequestArgs | string {
  const insert = requestArg(btf, 'block_rq_insert')
  if (typeof insert === 'string') return insert
  const issue = requestArg(btf, 'block_rq_issue')
  if (typeof issue === 'string') return issue
  const complete = requestArg(btf, 'block_rq_complete')
  if (typeof complete === 'string') return complete
  // The program reads block_rq_complete's request as its first argument.
  if (complete !== 0) return `block_rq_complete's struct request is argument ${complete + 1}, not the first`
  return {insert, issue}
}
