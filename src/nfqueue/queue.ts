/**
 * {@linkcode NfQueue}: one bound NFQUEUE and its receive/verdict loop.
 *
 * The loop runs on the main thread, in the same event loop as the control plane. Its only
 * blocking wait is a `recvmmsg` run on a helper thread (a nonblocking FFI symbol) bounded by
 * `SO_RCVTIMEO`, so the event loop keeps running while the queue is idle and `stop()` takes
 * effect within one timeout. When packets keep coming, the loop drains up to `spinBatches`
 * further batches with synchronous non-blocking receives before waiting again: that saves a
 * thread hop per batch under load while still yielding to the event loop regularly.
 *
 * @module
 */

import { SimdChecksum } from "../wire/checksum_simd.ts";
import {
  BatchProcessor,
  type FullChecksumMode,
  HANDLER_HEADROOM,
  PROCESSOR_SCRATCH_BYTES,
} from "./batch_processor.ts";
import { buildBindRequest } from "./config_message.ts";
import {
  DEFAULT_QUEUE_BUFFER_BYTES,
  DEFAULT_QUEUE_MAXLEN,
  EAGAIN,
  EBADF,
  EINTR,
  ENOBUFS,
  ENOMEM,
  MSG_DONTWAIT,
  MSG_TRUNC,
  MSG_WAITFORONE,
  NFGENMSG_LEN,
  NFQ_TYPE_PACKET,
  NFQNL_MAX_COPY_RANGE,
  NLMSG_ERROR,
  NLMSG_HDRLEN,
} from "./constants.ts";
import { newCounters, type NfQueueCounters } from "./counters.ts";
import { VerdictGather } from "./gather.ts";
import { strerror } from "./ffi.ts";
import type { BatchHooks, PacketHandler } from "./handler.ts";
import { NetlinkSocket } from "./netlink_socket.ts";
import { nlAlign, type PacketInfo } from "./netlink_parse.ts";
import { bindFailure, NfQueueOpenError } from "./open_errors.ts";
import { type KernelQueueStats, readKernelQueueStats } from "./proc_stats.ts";
import { RxRing } from "./rx_ring.ts";
import { VerdictWriter } from "./verdict_writer.ts";

/** How to open a queue. */
export interface NfQueueOptions {
  /** Queue number, as in `-j NFQUEUE --queue-num N` (0..65535). */
  queueNum: number;
  /** Kernel queue length limit (default {@linkcode DEFAULT_QUEUE_MAXLEN}). */
  maxLen?: number;
  /** Datagrams per receive call, 1..64 (default 64). */
  batchSize?: number;
  /** Receive buffer size in bytes (default {@linkcode DEFAULT_QUEUE_BUFFER_BYTES}, 32 MiB; the kernel doubles it). */
  receiveBufferBytes?: number;
  /** Longest blocking wait in ms, i.e. how fast `stop()` takes effect (default 200). */
  receiveTimeoutMs?: number;
  /** Synchronous batches drained between two event-loop yields (default 16). */
  spinBatches?: number;
  /**
   * Receive GSO super-packets (up to 64 KiB) unsegmented (default true: it multiplies bulk
   * throughput; false makes the kernel segment them and complete every checksum first).
   * With it, packets whose TCP/UDP checksum holds only the pseudo-header sum
   * (`packet.skbInfo & NFQA_SKB_CSUMNOTREADY`) reach the handler; when the handler rewrites
   * one, the loop writes its full checksum before the verdict (counted in
   * `checksumsCompleted`), since the kernel takes a returned payload's checksum as complete.
   */
  gso?: boolean;
  /**
   * How those full checksums are summed (default `"simd"`, WebAssembly SIMD). `"scalar"` and
   * `"off"` exist for measurements only; `"off"` breaks traffic (see
   * {@linkcode FullChecksumMode}).
   */
  fullChecksum?: FullChecksumMode;
  /**
   * Let packets through unprocessed when the queue is full instead of dropping them
   * (default false: for FULLNAT an unrewritten packet is useless or harmful).
   */
  failOpenWhenFull?: boolean;
}

const MAX_BATCH = 64;
const VERDICT_BUFFER_BYTES = 1 << 20;
const PENDING_LIMIT = 4096;

/** A bound NFQUEUE. Open with {@linkcode NfQueue.open}, drive with {@linkcode run}. */
export class NfQueue {
  /** The queue number. */
  readonly queueNum: number;
  /** Live counters, updated in place by the loop. */
  readonly counters: NfQueueCounters = newCounters();
  readonly #sock: NetlinkSocket;
  readonly #rx: RxRing;
  readonly #writer: VerdictWriter;
  readonly #processor: BatchProcessor;
  readonly #gather: VerdictGather;
  readonly #batch: number;
  readonly #timeoutMs: number;
  readonly #spin: number;
  // Packets that arrived while open() waited for the bind acknowledgement.
  #pending: Uint8Array[] = [];
  #running = false;
  #stopping = false;
  #closeAfterRun = false;
  #closed = false;
  #hooks: BatchHooks | undefined;

  private constructor(sock: NetlinkSocket, options: NfQueueOptions) {
    this.#sock = sock;
    this.queueNum = options.queueNum;
    this.#batch = options.batchSize ?? MAX_BATCH;
    this.#timeoutMs = options.receiveTimeoutMs ?? 200;
    this.#spin = options.spinBatches ?? 16;
    // A packet message is its headers (~150 bytes) plus up to NFQNL_MAX_COPY_RANGE bytes;
    // 4 KiB of spare room keeps cap >= len + HANDLER_HEADROOM for every packet.
    const slotSize = nlAlign(NFQNL_MAX_COPY_RANGE + 4096);
    // Packets are received straight into the summer's WebAssembly memory, so full checksums
    // are summed in place, without a copy.
    const ringBytes = this.#batch * slotSize;
    // The verdict buffer shares that memory too, so payloads are copied into it with
    // copyWithin (no subarray object per packet).
    const summer = new SimdChecksum(ringBytes + VERDICT_BUFFER_BYTES + PROCESSOR_SCRATCH_BYTES);
    this.#rx = new RxRing(this.#batch, slotSize, summer.allocate(ringBytes));
    this.#writer = new VerdictWriter(
      this.queueNum,
      VERDICT_BUFFER_BYTES,
      summer.allocate(VERDICT_BUFFER_BYTES),
    );
    // Large payloads are sent from their receive slot (no copy into the verdict buffer).
    this.#gather = new VerdictGather(this.#rx.buf.buffer as ArrayBuffer, 4 * this.#batch + 4);
    this.#processor = new BatchProcessor(this.#writer, this.counters, () => this.#flush(), {
      summer,
      fullChecksum: options.fullChecksum,
      gather: this.#gather,
    });
  }

  /**
   * Opens a netlink socket and binds queue `options.queueNum` to it, copying whole packets.
   * Throws {@linkcode NfQueueOpenError} saying what is wrong (no permission, queue held by
   * another process, no kernel support).
   */
  static open(options: NfQueueOptions): NfQueue {
    const { queueNum } = options;
    if (!Number.isInteger(queueNum) || queueNum < 0 || queueNum > 65535) {
      throw new RangeError(`queue number must be 0..65535, got ${queueNum}`);
    }
    const batch = options.batchSize ?? MAX_BATCH;
    if (!Number.isInteger(batch) || batch < 1 || batch > MAX_BATCH) {
      throw new RangeError(`batchSize must be 1..${MAX_BATCH}, got ${batch}`);
    }
    const positive: Array<[string, number | undefined]> = [
      ["maxLen", options.maxLen],
      ["receiveBufferBytes", options.receiveBufferBytes],
      ["receiveTimeoutMs", options.receiveTimeoutMs],
    ];
    for (const [name, value] of positive) {
      if (value !== undefined && (!Number.isInteger(value) || value < 1 || value > 2 ** 31 - 1)) {
        throw new RangeError(`${name} must be a positive integer, got ${value}`);
      }
    }
    const spin = options.spinBatches;
    if (spin !== undefined && (!Number.isInteger(spin) || spin < 0)) {
      throw new RangeError(`spinBatches must be an integer >= 0, got ${spin}`);
    }
    const mode = options.fullChecksum;
    if (mode !== undefined && mode !== "simd" && mode !== "scalar" && mode !== "off") {
      throw new RangeError(`fullChecksum must be "simd", "scalar" or "off", got ${mode}`);
    }
    if (options.gso !== undefined && typeof options.gso !== "boolean") {
      throw new TypeError(`gso must be true or false, got ${options.gso}`);
    }
    const sock = new NetlinkSocket();
    try {
      const q = new NfQueue(sock, options);
      q.#configure(options);
      return q;
    } catch (err) {
      sock.close();
      throw err;
    }
  }

  #configure(options: NfQueueOptions): void {
    const sock = this.#sock;
    // Buffers before the bind: the acknowledgement and first packets must not be lost.
    // Failures are tolerated here (without CAP_NET_ADMIN the bind below fails clearly).
    sock.setBufferSize("rcv", options.receiveBufferBytes ?? DEFAULT_QUEUE_BUFFER_BYTES);
    sock.setBufferSize("snd", 4 * VERDICT_BUFFER_BYTES);
    sock.setNoEnobufs();
    const t = sock.setReceiveTimeout(this.#timeoutMs);
    if (t < 0) throw new Error(`cannot set SO_RCVTIMEO: ${strerror(-t)}`);

    const req = new Uint8Array(512);
    const seq = (Date.now() & 0x7fffffff) >>> 0;
    const len = buildBindRequest(req, {
      queueNum: this.queueNum,
      copyRange: NFQNL_MAX_COPY_RANGE,
      maxLen: options.maxLen ?? DEFAULT_QUEUE_MAXLEN,
      failOpenWhenFull: options.failOpenWhenFull ?? false,
      gso: options.gso ?? true,
    }, seq);
    const sent = sock.send(req, len);
    if (sent < 0) throw this.#bindError(-sent);
    const error = this.#awaitAck(seq);
    if (error !== 0) throw this.#bindError(error);
  }

  #bindError(code: number): NfQueueOpenError {
    const holder = readKernelQueueStats(this.queueNum);
    const other = holder !== undefined && holder.peerPortId !== this.#sock.portId
      ? holder
      : undefined;
    return bindFailure(this.queueNum, code, strerror(code), other);
  }

  /**
   * Reads until the acknowledgement of request `seq` and returns its errno (0 = success).
   * Packets queued to us before it are kept for run(); the ack is already queued when
   * sendto returns (the kernel handles requests synchronously), so this rarely waits.
   */
  #awaitAck(seq: number): number {
    const rx = this.#rx;
    for (let attempt = 0; attempt < 64; attempt++) {
      // Blocking for the first datagram only, bounded by SO_RCVTIMEO.
      const n = this.#sock.receive(rx.mmsgPtr, this.#batch, MSG_WAITFORONE);
      if (n < 0) {
        if (-n === EINTR) continue;
        if (-n === EAGAIN) break;
        return -n;
      }
      let result: number | undefined;
      for (let i = 0; i < n; i++) {
        const start = i * rx.slotSize;
        const end = start + rx.length(i);
        let pos = start;
        while (pos + NLMSG_HDRLEN <= end) {
          const msgLen = rx.view.getUint32(pos, true);
          if (msgLen < NLMSG_HDRLEN) break;
          const type = rx.view.getUint16(pos + 4, true);
          if (type === NLMSG_ERROR && rx.view.getUint32(pos + 8, true) === seq) {
            result = -rx.view.getInt32(pos + NLMSG_HDRLEN, true);
          } else if (type === NFQ_TYPE_PACKET && msgLen >= NLMSG_HDRLEN + NFGENMSG_LEN) {
            this.#keepPending(rx.buf.slice(pos, Math.min(pos + msgLen, end)));
          }
          pos += nlAlign(msgLen);
        }
      }
      if (result !== undefined) return result;
    }
    throw new NfQueueOpenError(
      `no answer from the kernel to the bind request of NFQUEUE ${this.queueNum}`,
      EAGAIN,
    );
  }

  #keepPending(msg: Uint8Array): void {
    if (this.#pending.length < PENDING_LIMIT) this.#pending.push(msg);
    // Beyond the limit the packet stays queued without a verdict until the socket closes;
    // 4096 exceeds the kernel's default queue length, so this does not happen by default.
  }

  /** Netlink port id of the socket (as shown in the kernel's queue table). */
  get portId(): number {
    return this.#sock.portId;
  }

  /** Whether {@linkcode run} is looping. */
  get running(): boolean {
    return this.#running;
  }

  /**
   * Metadata of the packet being handled (id, interfaces, mark, `skbInfo` GSO/checksum
   * bits). Valid inside `handle()` only; the object is reused.
   */
  get packet(): Readonly<PacketInfo> {
    return this.#processor.packet;
  }

  /** errno of the last error the kernel reported for one of our verdicts (0: none). */
  get lastVerdictError(): number {
    return this.#processor.lastVerdictError;
  }

  /** The kernel's own figures for this queue (queue_total, queue_dropped, user_dropped...). */
  kernelStats(): KernelQueueStats | undefined {
    const s = readKernelQueueStats(this.queueNum);
    return s !== undefined && s.peerPortId === this.#sock.portId ? s : undefined;
  }

  /**
   * Receives packets, calls `handler` on each and returns the verdicts, until
   * {@linkcode stop} (or {@linkcode close}) is called; then resolves. Rejects only on a
   * fatal socket error. One loop per queue at a time. `hooks` are called around every batch.
   */
  async run(handler: PacketHandler, hooks?: BatchHooks): Promise<void> {
    if (this.#closed || this.#closeAfterRun) throw new Error("the queue is closed");
    if (this.#running) throw new Error(`NFQUEUE ${this.queueNum} already has a running loop`);
    this.#running = true;
    this.#stopping = false;
    const sock = this.#sock;
    const rx = this.#rx;
    const counters = this.counters;
    this.#hooks = hooks;
    try {
      this.#drainPending(handler);
      while (!this.#stopping) {
        counters.waits++;
        const n = await sock.receiveBlocking(rx.mmsgPtr, this.#batch, MSG_WAITFORONE);
        // On -1 the helper thread's errno is out of reach: a timeout, or EINTR when a
        // signal (SIGCHLD of a child process, say) lands on that thread. The synchronous
        // receive below reports any lasting error with its errno.
        if (n > 0) this.#process(n, handler);
        for (let i = 0; i < this.#spin && !this.#stopping; i++) {
          const m = sock.receive(rx.mmsgPtr, this.#batch, MSG_DONTWAIT);
          if (m > 0) {
            this.#process(m, handler);
            continue;
          }
          if (m < 0 && -m !== EAGAIN && -m !== EINTR) {
            if (-m === ENOBUFS) {
              counters.enobufs++;
              continue;
            }
            counters.recvErrors++;
            if (-m === EBADF) {
              throw new Error(`NFQUEUE ${this.queueNum}: socket gone (${strerror(-m)})`);
            }
          }
          break;
        }
      }
    } finally {
      this.#running = false;
      if (this.#closeAfterRun) this.#closeNow();
    }
  }

  /** Makes {@linkcode run} return after the batch in hand (within one receive timeout). */
  stop(): void {
    this.#stopping = true;
  }

  /**
   * Releases the queue: the kernel unbinds it when the socket closes, and packets still
   * waiting for a verdict are dropped (or bypass, with `--queue-bypass`). When the loop
   * runs, it is stopped and the socket closed as soon as its pending receive returns.
   * Idempotent.
   */
  close(): void {
    if (this.#closed) return;
    if (this.#running) {
      this.#closeAfterRun = true;
      this.stop();
      return;
    }
    this.#closeNow();
  }

  #closeNow(): void {
    this.#closed = true;
    // Receive/verdict buffers stay referenced by this object; nothing is in flight now.
    this.#sock.close();
  }

  #drainPending(handler: PacketHandler): void {
    const rx = this.#rx;
    while (this.#pending.length > 0) {
      const chunk = this.#pending.splice(0, this.#batch);
      this.#writer.reset();
      this.#hooks?.start();
      for (let i = 0; i < chunk.length; i++) {
        const start = i * rx.slotSize;
        rx.buf.set(chunk[i], start);
        this.#processor.datagram(
          rx.buf,
          rx.view,
          start,
          chunk[i].length,
          start + rx.slotSize,
          handler,
        );
      }
      this.counters.batches++;
      this.#flush();
      this.#hooks?.end();
    }
  }

  #process(n: number, handler: PacketHandler): void {
    const rx = this.#rx;
    const slotSize = rx.slotSize;
    this.#writer.reset();
    const hooks = this.#hooks;
    hooks?.start();
    for (let i = 0; i < n; i++) {
      const start = i * slotSize;
      if ((rx.flags(i) & MSG_TRUNC) !== 0) this.counters.malformed++;
      this.#processor.datagram(
        rx.buf,
        rx.view,
        start,
        Math.min(rx.length(i), slotSize),
        start + slotSize,
        handler,
      );
    }
    this.counters.batches++;
    this.#flush();
    hooks?.end();
  }

  /** Sends the verdicts written so far in one datagram and starts a new batch. */
  #flush(): void {
    const writer = this.#writer;
    const gather = this.#gather;
    if (gather.count > 0) {
      // Some payloads stay in their receive slots: one datagram gathered from the regions.
      this.#processor.gatherWriter();
      let r = this.#sock.sendMessage(gather.msghdrPtr);
      if (r < 0 && (-r === ENOBUFS || -r === ENOMEM || -r === EINTR || -r === EAGAIN)) {
        r = this.#sock.sendMessage(gather.msghdrPtr);
      }
      if (r < 0) this.counters.sendErrors++;
      this.#processor.resetGather();
      writer.reset();
      return;
    }
    if (writer.length === 0) return;
    let r = this.#sock.send(writer.buf, writer.length);
    if (r < 0 && (-r === ENOBUFS || -r === ENOMEM || -r === EINTR || -r === EAGAIN)) {
      // Nothing of a failed send was processed, so resending cannot duplicate verdicts.
      r = this.#sock.send(writer.buf, writer.length);
    }
    if (r < 0) this.counters.sendErrors++;
    this.#processor.resetGather();
    writer.reset();
  }
}

export { HANDLER_HEADROOM };
