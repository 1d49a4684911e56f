/**
 * MongoDB wire protocol framing: OP_MSG (every command after the handshake) and the legacy
 * OP_QUERY/OP_REPLY pair that drivers still use for the first `hello`.
 */
import { deserialize, serialize } from "bson";
import type { Doc } from "./engine/paths.js";

export const OP_REPLY = 1;
export const OP_QUERY = 2004;
export const OP_MSG = 2013;

const CHECKSUM_PRESENT = 1 << 0;
export const MORE_TO_COME = 1 << 1;

/** Longs stay Long (so they round-trip exactly); other numbers become JS numbers. */
const DESERIALIZE = { promoteLongs: false, promoteValues: true, promoteBuffers: false } as const;

export interface Header {
  length: number;
  requestId: number;
  responseTo: number;
  opCode: number;
}

export function readHeader(buf: Buffer): Header {
  return { length: buf.readInt32LE(0), requestId: buf.readInt32LE(4), responseTo: buf.readInt32LE(8), opCode: buf.readInt32LE(12) };
}

/**
 * The largest BSON document a command may carry, as its body or in a document sequence: the
 * document limit plus 16 KiB for the command around it (MongoDB's BSONObjMaxInternalSize).
 */
export const MAX_COMMAND_BYTES = 16 * 1024 * 1024 + 16 * 1024;

export interface Request {
  header: Header;
  command: Doc;
  /** Bytes of the largest BSON document in the message (its body or a sequence entry). */
  largestDocument: number;
  /** The client asked for no reply (unacknowledged write). */
  moreToCome: boolean;
  legacy: boolean;
}

export class ProtocolError extends Error {}

function readDoc(buf: Buffer, offset: number): { doc: Doc; size: number } {
  if (offset + 4 > buf.length) throw new ProtocolError("truncated BSON document");
  const size = buf.readInt32LE(offset);
  if (size < 5 || offset + size > buf.length) throw new ProtocolError("invalid BSON document length");
  return { doc: deserialize(buf.subarray(offset, offset + size), DESERIALIZE) as Doc, size };
}

function readCString(buf: Buffer, offset: number): { value: string; next: number } {
  const end = buf.indexOf(0, offset);
  if (end < 0) throw new ProtocolError("unterminated cstring");
  return { value: buf.toString("utf8", offset, end), next: end + 1 };
}

/** Parses one complete message (header included) into the command it carries. */
export function parseMessage(msg: Buffer): Request {
  const header = readHeader(msg);
  if (header.opCode === OP_MSG) {
    const flags = msg.readUInt32LE(16);
    const end = flags & CHECKSUM_PRESENT ? msg.length - 4 : msg.length;
    let offset = 20;
    let body: Doc | null = null;
    let largest = 0;
    const sequences: Array<[string, Doc[]]> = [];
    while (offset < end) {
      const kind = msg.readUInt8(offset++);
      if (kind === 0) {
        const { doc, size } = readDoc(msg, offset);
        body = doc;
        largest = Math.max(largest, size);
        offset += size;
      } else if (kind === 1) {
        const sectionSize = msg.readInt32LE(offset);
        const sectionEnd = offset + sectionSize;
        const id = readCString(msg, offset + 4);
        let p = id.next;
        const docs: Doc[] = [];
        while (p < sectionEnd) {
          const { doc, size } = readDoc(msg, p);
          docs.push(doc);
          largest = Math.max(largest, size);
          p += size;
        }
        sequences.push([id.value, docs]);
        offset = sectionEnd;
      } else throw new ProtocolError(`unknown OP_MSG section kind ${kind}`);
    }
    if (!body) throw new ProtocolError("OP_MSG without a body section");
    for (const [id, docs] of sequences) body[id] = docs;
    return { header, command: body, largestDocument: largest, moreToCome: (flags & MORE_TO_COME) !== 0, legacy: false };
  }
  if (header.opCode === OP_QUERY) {
    const ns = readCString(msg, 20);
    const { doc, size } = readDoc(msg, ns.next + 8);
    const command = "$query" in doc && typeof doc.$query === "object" ? (doc.$query as Doc) : doc;
    const db = ns.value.split(".")[0] ?? "admin";
    return { header, command: { ...command, $db: db }, largestDocument: size, moreToCome: false, legacy: true };
  }
  throw new ProtocolError(`unsupported opCode ${header.opCode}`);
}

let nextResponseId = 1;

function frame(opCode: number, responseTo: number, payload: Buffer[]): Buffer {
  const length = 16 + payload.reduce((n, b) => n + b.length, 0);
  const header = Buffer.alloc(16);
  header.writeInt32LE(length, 0);
  header.writeInt32LE(nextResponseId++ & 0x7fffffff, 4);
  header.writeInt32LE(responseTo, 8);
  header.writeInt32LE(opCode, 12);
  return Buffer.concat([header, ...payload], length);
}

export function encodeReply(req: Request, reply: Doc): Buffer {
  const body = Buffer.from(serialize(reply, { ignoreUndefined: true }));
  if (req.legacy) {
    const prefix = Buffer.alloc(20);
    prefix.writeInt32LE(0, 0); // responseFlags
    prefix.writeBigInt64LE(0n, 4); // cursorID
    prefix.writeInt32LE(0, 12); // startingFrom
    prefix.writeInt32LE(1, 16); // numberReturned
    return frame(OP_REPLY, req.header.requestId, [prefix, body]);
  }
  const prefix = Buffer.alloc(5);
  prefix.writeUInt32LE(0, 0);
  prefix.writeUInt8(0, 4);
  return frame(OP_MSG, req.header.requestId, [prefix, body]);
}
