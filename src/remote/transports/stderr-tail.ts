/** Keeps the last few KiB a child process wrote to stderr, for error messages. */
export class StderrTail {
  private chunks: Buffer[] = []
  private bytes = 0

  constructor(private readonly limit = 4096) {}

  push(chunk: Buffer): void {
    this.chunks.push(chunk)
    this.bytes += chunk.length
    while (this.bytes - this.chunks[0].length >= this.limit) {
      this.bytes -= this.chunks[0].length
      this.chunks.shift()
    }
  }

  /** The tail as text: at most `limit` bytes and the last 10 lines, trimmed. */
  text(): string {
    let text = Buffer.concat(this.chunks).toString('utf8')
    if (text.length > this.limit) text = text.slice(text.length - this.limit)
    const lines = text.trim().split('\n')
    return lines.slice(-10).join('\n').trim()
  }
}
