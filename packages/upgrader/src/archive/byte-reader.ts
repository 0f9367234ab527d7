/** Pulls exact byte counts out of a chunked stream without copying more than needed. */
export class ByteReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private ended = false;
  private readonly it: AsyncIterator<Buffer>;
  /** Bytes consumed so far (for messages). */
  offset = 0;

  constructor(source: AsyncIterable<Buffer>) {
    this.it = source[Symbol.asyncIterator]();
  }

  private async fill(n: number): Promise<void> {
    while (this.buffered < n && !this.ended) {
      const r = await this.it.next();
      if (r.done) this.ended = true;
      else if (r.value.length > 0) {
        this.chunks.push(r.value);
        this.buffered += r.value.length;
      }
    }
  }

  /** Exactly n bytes; fewer only at the end of the stream (the caller decides if that is truncation). */
  async read(n: number): Promise<Buffer> {
    await this.fill(n);
    const take = Math.min(n, this.buffered);
    const out = Buffer.allocUnsafe(take);
    let pos = 0;
    while (pos < take) {
      const head = this.chunks[0]!;
      const want = take - pos;
      if (head.length <= want) {
        head.copy(out, pos);
        pos += head.length;
        this.chunks.shift();
      } else {
        head.copy(out, pos, 0, want);
        this.chunks[0] = head.subarray(want);
        pos += want;
      }
    }
    this.buffered -= take;
    this.offset += take;
    return out;
  }

  /** Up to n bytes as chunks; stops early only at the end of the stream. */
  async *chunksOf(n: number): AsyncGenerator<Buffer> {
    let left = n;
    while (left > 0) {
      if (this.buffered === 0) await this.fill(1);
      if (this.buffered === 0) return;
      const head = this.chunks[0]!;
      let piece: Buffer;
      if (head.length <= left) {
        piece = head;
        this.chunks.shift();
      } else {
        piece = head.subarray(0, left);
        this.chunks[0] = head.subarray(left);
      }
      this.buffered -= piece.length;
      this.offset += piece.length;
      left -= piece.length;
      yield piece;
    }
  }

  /** Cancel the underlying stream (after an error). */
  async close(): Promise<void> {
    await this.it.return?.();
  }
}
