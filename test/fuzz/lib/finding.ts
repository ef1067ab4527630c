/** A fuzz case broke the contract of the code under test. */
export class Finding extends Error {
  override readonly name = 'Finding'

  constructor(message: string, cause?: Error) {
    super(cause?.stack ? `${message}\n${cause.stack.split('\n').slice(1, 8).join('\n')}` : message, {cause})
  }
}
