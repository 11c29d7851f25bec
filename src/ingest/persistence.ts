/**
 * A durable aedes persistence: aedes-persistence's in-memory structures answer every read (the
 * subscription trie, retained topics, the per-client outgoing queues), and every mutation is also
 * journalled to `<dataDir>/broker.db` (SQLite), so a restarted broker finds persistent sessions,
 * their queued messages, QoS 2 handshakes, retained messages and wills where it left them.
 *
 * Group commit: mutations queue up and are written in one transaction once `commitDelayMs` has
 * passed since the first of them (or `maxBatchOps` are waiting); the promise of a mutation that
 * must be durable resolves only after its transaction committed. The broker database runs in WAL
 * mode with `synchronous = NORMAL`: a committed transaction survives a crash of the process, but
 * the last ones before a power loss or an OS crash may roll back (https://sqlite.org/pragma.html#pragma_synchronous).
 *
 * The broker has its own database file: it commits every few milliseconds under load, and SQLite
 * has one writer per file, so sharing continuum.db would make the registry's writes wait for it.
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { deserialize, serialize } from 'node:v8';
import Database from 'better-sqlite3';
import { migrate } from '../store/index.js';
import type { Migration, SqliteDatabase } from '../store/index.js';

/** A packet as aedes hands it to a persistence (aedes-packet's fields plus mqtt-packet's). */
export interface BrokerPacket {
  cmd: string;
  topic?: string;
  payload?: Buffer | string;
  qos?: number;
  retain?: boolean;
  messageId?: number;
  brokerId?: string;
  brokerCounter?: number;
}

/** What a persistence needs of a client: its id. */
interface ClientRef {
  readonly id: string;
}

/** One subscription of a client, as aedes stores it (MQTT 5 options included). */
interface SubscriptionRecord {
  topic: string;
  qos: number;
  [option: string]: unknown;
}

/** The part of aedes-persistence's asyncPersistence.js this class builds on. */
interface MemoryPersistence {
  setup(broker: { readonly id: string }): Promise<void>;
  storeRetained(packet: BrokerPacket): Promise<void>;
  addSubscriptions(client: ClientRef, subs: SubscriptionRecord[]): Promise<void>;
  removeSubscriptions(client: ClientRef, topics: string[]): Promise<void>;
  subscriptionsByTopic(topic: string): Promise<{ clientId: string }[]>;
  cleanSubscriptions(client: ClientRef): Promise<void>;
  incomingStorePacket(client: ClientRef, packet: BrokerPacket): Promise<void>;
  incomingGetPacket(client: ClientRef, packet: BrokerPacket): Promise<BrokerPacket>;
  incomingDelPacket(client: ClientRef, packet: BrokerPacket): Promise<void>;
  cleanIncoming(client: ClientRef): Promise<void>;
  putWill(client: ClientRef, packet: BrokerPacket): Promise<void>;
  delWill(client: ClientRef): Promise<BrokerPacket | undefined>;
  destroy(): Promise<void>;
}

// aedes-persistence and aedes-packet are CommonJS without typings for these entry points.
const require = createRequire(import.meta.url);
const MemoryPersistenceClass = require('aedes-persistence/asyncPersistence.js') as new () => MemoryPersistence;
const AedesPacket = require('aedes-packet') as new (original: BrokerPacket) => BrokerPacket;

/** Options of {@link DurablePersistence}. */
export interface DurablePersistenceOptions {
  /** The data directory; the journal is `<dataDir>/broker.db`. */
  readonly dataDir: string;
  /** Longest wait before a queued mutation is committed. @default 2 */
  readonly commitDelayMs?: number;
  /** Mutations that commit at once without waiting for the delay. @default 1000 */
  readonly maxBatchOps?: number;
}

const BROKER_MIGRATIONS_TABLE = 'broker_schema_migrations';

const MIGRATIONS: readonly Migration[] = [
  {
    id: 1,
    name: 'broker sessions, queues, retained messages and wills',
    sql: `
      CREATE TABLE broker_retained (topic TEXT PRIMARY KEY, packet BLOB NOT NULL);
      CREATE TABLE broker_subscriptions (client_id TEXT NOT NULL, topic TEXT NOT NULL, subscription BLOB NOT NULL, PRIMARY KEY (client_id, topic)) WITHOUT ROWID;
      CREATE TABLE broker_outgoing (seq INTEGER PRIMARY KEY, client_id TEXT NOT NULL, message_id INTEGER, packet BLOB NOT NULL);
      CREATE TABLE broker_incoming (client_id TEXT NOT NULL, message_id INTEGER NOT NULL, packet BLOB NOT NULL, PRIMARY KEY (client_id, message_id)) WITHOUT ROWID;
      CREATE TABLE broker_wills (client_id TEXT PRIMARY KEY, packet BLOB NOT NULL);
      CREATE TABLE broker_inbound (seq INTEGER PRIMARY KEY, packet BLOB NOT NULL);
    `,
  },
];

/** Opens `<dataDir>/broker.db` in WAL mode with `synchronous = NORMAL` and applies the migrations. */
function openBrokerDatabase(dataDir: string): SqliteDatabase {
  const db = new Database(join(dataDir, 'broker.db'));
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    migrate(db, MIGRATIONS, BROKER_MIGRATIONS_TABLE);
  } catch (err) {
    db.close();
    throw err;
  }
  return db;
}

/** The prepared statements of the journal, one per kind of mutation. */
function statementsOf(db: SqliteDatabase) {
  return {
    putRetained: db.prepare('INSERT OR REPLACE INTO broker_retained (topic, packet) VALUES (?, ?)'),
    delRetained: db.prepare('DELETE FROM broker_retained WHERE topic = ?'),
    putSubscription: db.prepare('INSERT OR REPLACE INTO broker_subscriptions (client_id, topic, subscription) VALUES (?, ?, ?)'),
    delSubscription: db.prepare('DELETE FROM broker_subscriptions WHERE client_id = ? AND topic = ?'),
    delSubscriptions: db.prepare('DELETE FROM broker_subscriptions WHERE client_id = ?'),
    putOutgoing: db.prepare('INSERT INTO broker_outgoing (seq, client_id, message_id, packet) VALUES (?, ?, NULL, ?)'),
    setOutgoingMessageId: db.prepare('UPDATE broker_outgoing SET message_id = ? WHERE seq = ?'),
    replaceOutgoing: db.prepare('UPDATE broker_outgoing SET message_id = ?, packet = ? WHERE seq = ?'),
    delOutgoing: db.prepare('DELETE FROM broker_outgoing WHERE seq = ?'),
    putIncoming: db.prepare('INSERT OR REPLACE INTO broker_incoming (client_id, message_id, packet) VALUES (?, ?, ?)'),
    delIncoming: db.prepare('DELETE FROM broker_incoming WHERE client_id = ? AND message_id = ?'),
    delIncomings: db.prepare('DELETE FROM broker_incoming WHERE client_id = ?'),
    putWill: db.prepare('INSERT OR REPLACE INTO broker_wills (client_id, packet) VALUES (?, ?)'),
    delWill: db.prepare('DELETE FROM broker_wills WHERE client_id = ?'),
    putInbound: db.prepare('INSERT INTO broker_inbound (seq, packet) VALUES (?, ?)'),
    delInbound: db.prepare('DELETE FROM broker_inbound WHERE seq = ?'),
  };
}

type Statements = ReturnType<typeof statementsOf>;

/**
 * Group commit over one SQLite connection: writes queue up and run in a single transaction after
 * `delayMs` (or at once when `maxOps` wait), so a burst of messages costs one commit, not one each.
 */
class GroupCommit {
  private ops: ((s: Statements) => void)[] = [];
  private waiters: { resolve: () => void; reject: (err: unknown) => void }[] = [];
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly db: SqliteDatabase,
    private readonly statements: Statements,
    private readonly delayMs: number,
    private readonly maxOps: number,
  ) {}

  /** Queues a write and resolves once it is committed. */
  durable(op: (s: Statements) => void): Promise<void> {
    return new Promise((resolve, reject) => {
      this.waiters.push({ resolve, reject });
      this.later(op);
    });
  }

  /** Queues a write that nobody waits for; it commits with the next batch. */
  later(op: (s: Statements) => void): void {
    if (this.closed) throw new Error('the broker journal is closed');
    this.ops.push(op);
    if (this.ops.length >= this.maxOps) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), this.delayMs);
  }

  /** Commits what is queued now. */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.ops.length === 0) return;
    const ops = this.ops;
    const waiters = this.waiters;
    this.ops = [];
    this.waiters = [];
    try {
      this.db.transaction(() => {
        for (const op of ops) op(this.statements);
      })();
    } catch (err) {
      for (const w of waiters) w.reject(err);
      return;
    }
    for (const w of waiters) w.resolve();
  }

  /** Commits what is queued and refuses further writes. */
  close(): void {
    this.flush();
    this.closed = true;
  }
}

/** A message in a client's outgoing queue, with the journal row that holds it. */
interface Queued {
  readonly seq: number;
  packet: BrokerPacket;
}

/** A QoS 1/2 message recorded before aedes acknowledged it, not yet routed. */
export interface UnroutedMessage {
  readonly seq: number;
  readonly packet: BrokerPacket;
}

function toBlob(value: unknown): Buffer {
  return serialize(value);
}

function fromBlob<T>(blob: Buffer): T {
  return deserialize(blob) as T;
}

/**
 * aedes-persistence's memory persistence with a SQLite journal. The outgoing queues are kept here
 * rather than in the parent class: the parent's queue entries cannot be addressed from outside
 * (private fields) nor rebuilt exactly through its API (a PUBREL entry loses its message id), so
 * this class holds the same per-client arrays with the same matching rules (asyncPersistence.js
 * outgoingUpdate / outgoingClearMessageId), each entry tied to its journal row.
 */
export class DurablePersistence extends MemoryPersistenceClass {
  private readonly db: SqliteDatabase;
  private readonly journal: GroupCommit;
  private readonly outgoing = new Map<string, Queued[]>();
  private readonly inboundSeqs = new WeakMap<object, number>();
  private unrouted: UnroutedMessage[] = [];
  private nextSeq = 1;

  constructor(options: DurablePersistenceOptions) {
    super();
    this.db = openBrokerDatabase(options.dataDir);
    this.journal = new GroupCommit(this.db, statementsOf(this.db), options.commitDelayMs ?? 2, options.maxBatchOps ?? 1000);
  }

  /** Loads the journalled state into memory; aedes calls it once, before it accepts clients. */
  override async setup(broker: { readonly id: string }): Promise<void> {
    await super.setup(broker);
    for (const row of this.db.prepare('SELECT packet FROM broker_retained').all() as { packet: Buffer }[]) await super.storeRetained(fromBlob(row.packet));
    const subscriptions = new Map<string, SubscriptionRecord[]>();
    for (const row of this.db.prepare('SELECT client_id, subscription FROM broker_subscriptions').all() as { client_id: string; subscription: Buffer }[]) {
      const list = subscriptions.get(row.client_id) ?? [];
      list.push(fromBlob(row.subscription));
      subscriptions.set(row.client_id, list);
    }
    for (const [id, subs] of subscriptions) await super.addSubscriptions({ id }, subs);
    const outgoing = this.db.prepare('SELECT seq, client_id, message_id, packet FROM broker_outgoing ORDER BY seq').all() as { seq: number; client_id: string; message_id: number | null; packet: Buffer }[];
    for (const row of outgoing) {
      const packet = fromBlob<BrokerPacket>(row.packet);
      if (row.message_id !== null) packet.messageId = row.message_id;
      this.queueOf(row.client_id).push({ seq: row.seq, packet });
    }
    for (const row of this.db.prepare('SELECT client_id, packet FROM broker_incoming').all() as { client_id: string; packet: Buffer }[]) await super.incomingStorePacket({ id: row.client_id }, fromBlob(row.packet));
    for (const row of this.db.prepare('SELECT client_id, packet FROM broker_wills').all() as { client_id: string; packet: Buffer }[]) {
      const will = fromBlob<BrokerPacket>(row.packet);
      const brokerId = will.brokerId;
      await super.putWill({ id: row.client_id }, will);
      // The parent keeps the object it was given and stamps the live broker's id on it; the will
      // belongs to the broker that stored it, so aedes publishes it once that broker is gone.
      will.brokerId = brokerId;
    }
    this.unrouted = (this.db.prepare('SELECT seq, packet FROM broker_inbound ORDER BY seq').all() as { seq: number; packet: Buffer }[]).map((r) => ({ seq: r.seq, packet: fromBlob(r.packet) }));
    const maxSeq = this.db.prepare('SELECT max(seq) AS seq FROM (SELECT max(seq) AS seq FROM broker_outgoing UNION ALL SELECT max(seq) FROM broker_inbound)').get() as { seq: number | null };
    this.nextSeq = (maxSeq.seq ?? 0) + 1;
  }

  override async storeRetained(packet: BrokerPacket): Promise<void> {
    await super.storeRetained(packet);
    const topic = packet.topic ?? '';
    const empty = packet.payload === undefined || packet.payload.length === 0;
    const blob = empty ? undefined : toBlob({ ...packet });
    // Not awaited: aedes stores the retained copy before it routes the message, and a commit's wait
    // here would let later messages of the same publisher overtake it; aedes' per-client dedupe
    // (by broker counter) then drops it at every subscriber. recordInbound journalled the message
    // before its PUBACK, so a crash before this commit publishes (and retains) it again at start.
    this.journal.later((s) => (blob === undefined ? s.delRetained.run(topic) : s.putRetained.run(topic, blob)));
  }

  override async addSubscriptions(client: ClientRef, subs: SubscriptionRecord[]): Promise<void> {
    await super.addSubscriptions(client, subs);
    const rows = subs.map((sub) => [sub.topic, toBlob({ ...sub })] as const);
    await this.journal.durable((s) => {
      for (const [topic, blob] of rows) s.putSubscription.run(client.id, topic, blob);
    });
  }

  override async removeSubscriptions(client: ClientRef, topics: string[]): Promise<void> {
    await super.removeSubscriptions(client, topics);
    await this.journal.durable((s) => {
      for (const topic of topics) s.delSubscription.run(client.id, topic);
    });
  }

  override async cleanSubscriptions(client: ClientRef): Promise<void> {
    await super.cleanSubscriptions(client);
    await this.journal.durable((s) => s.delSubscriptions.run(client.id));
  }

  /** Queues a message for one offline (or persistent) subscriber; resolves once journalled. */
  async outgoingEnqueue(sub: { clientId: string }, packet: BrokerPacket): Promise<void> {
    await this.outgoingEnqueueCombi([sub], packet);
  }

  /** Queues a message for each subscriber; resolves once journalled (no commit when there are none). */
  async outgoingEnqueueCombi(subs: { clientId: string }[], packet: BrokerPacket): Promise<void> {
    if (subs.length === 0) return;
    // As the parent: each queue holds its own copy, with the message id unassigned (aedes-packet).
    const rows = subs.map((sub) => {
      const queued = { seq: this.nextSeq++, packet: new AedesPacket(packet) };
      this.queueOf(sub.clientId).push(queued);
      return [queued.seq, sub.clientId] as const;
    });
    const blob = toBlob({ ...new AedesPacket(packet) });
    await this.journal.durable((s) => {
      for (const [seq, clientId] of rows) s.putOutgoing.run(seq, clientId, blob);
    });
  }

  /**
   * Gives a queued message its packet id, or replaces it (a PUBLISH by its PUBREL), with the
   * parent's matching rule. A new packet id is not waited for: after a restart aedes assigns new
   * ones anyway; a PUBREL is, so a restarted broker never sends the PUBLISH again.
   */
  async outgoingUpdate(client: ClientRef, packet: BrokerPacket): Promise<void> {
    for (const queued of this.outgoing.get(client.id) ?? []) {
      const stored = queued.packet;
      if (stored.brokerId === packet.brokerId) {
        if (stored.brokerCounter === packet.brokerCounter) {
          stored.messageId = packet.messageId;
          const messageId = packet.messageId ?? null;
          this.journal.later((s) => s.setOutgoingMessageId.run(messageId, queued.seq));
          return;
        }
      } else if (stored.messageId === packet.messageId) {
        queued.packet = packet;
        const blob = toBlob({ ...packet });
        const messageId = packet.messageId ?? null;
        await this.journal.durable((s) => s.replaceOutgoing.run(messageId, blob, queued.seq));
        return;
      }
    }
    throw new Error('no such packet');
  }

  /** Removes the acknowledged message with this packet id; a lost removal only means one redelivery. */
  async outgoingClearMessageId(client: ClientRef, packet: BrokerPacket): Promise<BrokerPacket | undefined> {
    const queue = this.outgoing.get(client.id);
    if (queue === undefined) return undefined;
    const i = queue.findIndex((q) => q.packet.messageId === packet.messageId);
    const queued = queue[i];
    if (queued === undefined) return undefined;
    queue.splice(i, 1);
    if (queue.length === 0) this.outgoing.delete(client.id);
    this.journal.later((s) => s.delOutgoing.run(queued.seq));
    return queued.packet;
  }

  /** The client's queued messages, oldest first (a snapshot, as the parent's). */
  outgoingStream(client: ClientRef): Readable {
    return Readable.from((this.outgoing.get(client.id) ?? []).map((q) => q.packet));
  }

  override async incomingStorePacket(client: ClientRef, packet: BrokerPacket): Promise<void> {
    await super.incomingStorePacket(client, packet);
    const messageId = packet.messageId ?? 0;
    const blob = toBlob({ ...packet });
    await this.journal.durable((s) => s.putIncoming.run(client.id, messageId, blob));
  }

  override async incomingDelPacket(client: ClientRef, packet: BrokerPacket): Promise<void> {
    await super.incomingDelPacket(client, packet);
    const messageId = packet.messageId ?? 0;
    await this.journal.durable((s) => s.delIncoming.run(client.id, messageId));
  }

  override async cleanIncoming(client: ClientRef): Promise<void> {
    await super.cleanIncoming(client);
    await this.journal.durable((s) => s.delIncomings.run(client.id));
  }

  override async putWill(client: ClientRef, packet: BrokerPacket): Promise<void> {
    await super.putWill(client, packet);
    const blob = toBlob({ ...packet });
    await this.journal.durable((s) => s.putWill.run(client.id, blob));
  }

  override async delWill(client: ClientRef): Promise<BrokerPacket | undefined> {
    const will = await super.delWill(client);
    if (will !== undefined) await this.journal.durable((s) => s.delWill.run(client.id));
    return will;
  }

  /**
   * Journals a QoS 1/2 message before aedes acknowledges it, when losing it would matter: it is
   * retained, or a persistent session subscribes to its topic. aedes writes PUBACK before it
   * routes a QoS 1 message (aedes lib/handlers/publish.js), so without this record a crash in
   * between would lose a message the publisher was told is safe. Resolves to whether aedes will
   * route the message: not a QoS 2 retransmission of a stored one (MQTT-4.3.3-2).
   */
  async recordInbound(client: ClientRef | null, packet: BrokerPacket): Promise<boolean> {
    if (packet.qos === 2 && client !== null && (await this.incomingGetPacket(client, packet).then(() => true, () => false))) return false;
    if ((packet.qos ?? 0) === 0) return true;
    if (packet.retain !== true && (await this.subscriptionsByTopic(packet.topic ?? '')).length === 0) return true;
    const seq = this.nextSeq++;
    this.inboundSeqs.set(packet, seq);
    const blob = toBlob({ ...packet });
    await this.journal.durable((s) => s.putInbound.run(seq, blob));
    return true;
  }

  /** Drops the record of a message aedes has now routed (queued, retained and delivered). */
  settleInbound(packet: BrokerPacket): void {
    const seq = this.inboundSeqs.get(packet);
    if (seq === undefined) return;
    this.inboundSeqs.delete(packet);
    this.journal.later((s) => s.delInbound.run(seq));
  }

  /** The messages acknowledged before the last stop but never routed; the broker publishes them again. */
  takeUnrouted(): UnroutedMessage[] {
    const unrouted = this.unrouted;
    this.unrouted = [];
    return unrouted;
  }

  /** Forgets a message that was published again after a restart. */
  settleUnrouted(message: UnroutedMessage): void {
    this.journal.later((s) => s.delInbound.run(message.seq));
  }

  /** Messages written to these connected clients and not yet acknowledged by them. */
  unacknowledged(clientIds: Iterable<string>): number {
    let n = 0;
    for (const id of clientIds) for (const q of this.outgoing.get(id) ?? []) if (q.packet.messageId !== undefined) n++;
    return n;
  }

  /** Commits what is queued, then closes the journal. */
  override async destroy(): Promise<void> {
    this.journal.close();
    this.db.close();
    await super.destroy();
  }

  private queueOf(clientId: string): Queued[] {
    let queue = this.outgoing.get(clientId);
    if (queue === undefined) {
      queue = [];
      this.outgoing.set(clientId, queue);
    }
    return queue;
  }
}
