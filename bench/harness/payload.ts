// The bytes every message carries, whatever the target. The harness owns them; a target only moves them.
//
//  off size field
//   0   8   intendedUs   f64 LE: when the timetable said to send (latency from here corrects coordinated omission)
//   8   8   actualUs     f64 LE: when publish() was actually called
//  16   4   seq          u32 LE: the harness's sequence number
//  20   1   phase        0 = warm-up (not recorded), 1 = measured
//  21   3   reserved
//  24   ... filler up to the requested size

export const PAYLOAD_HEADER_BYTES = 24;
export const PHASE_WARMUP = 0;
export const PHASE_MEASURED = 1;

/** Reuses one buffer for every message: publishers must copy during publish() (they all do: a socket write). */
export class PayloadStamper {
  readonly bytes: Uint8Array;
  private readonly view: DataView;

  constructor(size: number) {
    if (!Number.isInteger(size) || size < PAYLOAD_HEADER_BYTES) {
      throw new RangeError(`payload size must be an integer ≥ ${PAYLOAD_HEADER_BYTES} bytes (the timestamp header), got ${size}`);
    }
    this.bytes = new Uint8Array(size);
    for (let i = PAYLOAD_HEADER_BYTES; i < size; i++) this.bytes[i] = (i * 31) & 0xff;
    this.view = new DataView(this.bytes.buffer);
  }

  stamp(seq: number, intendedUs: number, actualUs: number, measured: boolean): Uint8Array {
    this.view.setFloat64(0, intendedUs, true);
    this.view.setFloat64(8, actualUs, true);
    this.view.setUint32(16, seq, true);
    this.bytes[20] = measured ? PHASE_MEASURED : PHASE_WARMUP;
    return this.bytes;
  }
}

// Reading a float out of an arbitrary view without allocating a DataView per message:
// copy 8 bytes into a scratch buffer that a Float64Array aliases. (Little-endian hosts only; checked below.)
const scratch = new Float64Array(1);
const scratchBytes = new Uint8Array(scratch.buffer);
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function f64At(b: Uint8Array, at: number): number {
  if (!LITTLE_ENDIAN) return new DataView(b.buffer, b.byteOffset, b.byteLength).getFloat64(at, true);
  for (let i = 0; i < 8; i++) scratchBytes[i] = b[at + i]!;
  return scratch[0]!;
}

export const payloadIntendedUs = (b: Uint8Array): number => f64At(b, 0);
export const payloadActualUs = (b: Uint8Array): number => f64At(b, 8);
export const payloadSeq = (b: Uint8Array): number => (b[16]! | (b[17]! << 8) | (b[18]! << 16)) + b[19]! * 0x100_0000;
export const payloadMeasured = (b: Uint8Array): boolean => b[20] === PHASE_MEASURED;
