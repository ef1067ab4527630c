// A spinner on stderr for slow steps. Only on a terminal, only after a short
// delay (so cache hits never flash one), and erased when the step ends, so
// nothing of it reaches a pipe or a log.

const FRAMES = ['|', '/', '-', '\\']

export function startSpinner(label: string, stream: NodeJS.WriteStream = process.stderr, delayMs = 300): () => void {
  if (!stream.isTTY) return () => {}
  let frame = 0
  let shown = false
  let interval: NodeJS.Timeout | undefined
  const draw = () => {
    shown = true
    stream.write(`\r${FRAMES[frame++ % FRAMES.length]} ${label}`)
  }
  const delay = setTimeout(() => {
    draw()
    interval = setInterval(draw, 100)
    interval.unref()
  }, delayMs)
  delay.unref()
  return () => {
    clearTimeout(delay)
    clearInterval(interval)
    if (shown) stream.write('\r\x1b[K')
  }
}
