// A partner system reading its own feed from send-exchange with the stock `nats` npm package:
// the events the data-sharing agreement entitles it to (README "Agreements and feeds").
//
//   SENDX_NATS_USER=icb-QK1-client SENDX_NATS_PASSWORD=... node feed.mjs
//
// Environment: NATS_URL, SENDX_NATS_USER (<kind>-<org>-client), SENDX_NATS_PASSWORD,
// SENDX_NATS_CA (TLS, as partner.mjs). The feed is stream SEND_FEEDS, subjects
// send.feed.<your org>.<source org>.<family>.<name>.<person key>; you may hold durable consumers
// named <org>-feed, <org>-alerts, <org>-replay and <org>-webhook, filtered inside your own
// subjects. This reads through <org>-feed (created on first run, then resumed where it acked),
// acks each message after handling it and keeps going across reconnects and server restarts.
// Each message's `Nats-Msg-Id` is <org>.<event id>: a message redelivered after a lost ack has
// the same one, which is how a partner system recognises it has already handled an event.
//
// Personal fields travel sealed under the source's key, which no partner may read. Where your
// clause opens one (`open_fields`, e.g. a diagnosis's `condition` for an LA), the message has a
// `Sendx-Opened` header, {field: token} in JSON, each token sealed under a key of your own for
// that source and person: `openFields` reads that key (one direct get of the last message on
// $KV.SEND_FEED_KEYS.<your org>.<source org>.<person key>, the only read of the bucket your
// login may make) and opens each token with node:crypto, AES-256-GCM: base64url(12-byte nonce |
// ciphertext | 16-byte tag), associated data
// "send-exchange/feed/v1|<your org>|<event_id>|<person_key>|<type>|<field>", the plaintext the
// field's JSON value. No key (either side erased the person since): nothing opens.
//
// Prints one JSON line per delivery: {"event_id", "subject", "clause", "agreement",
// "source_seq", "redelivered", "event": {type, source_org, person_key}, "opened": {field:
// value}}; {"ready": true} once the consumer is bound, and {"warning"} lines while the server
// is away. Stops on SIGTERM.

import { createDecipheriv } from "node:crypto";
import { AckPolicy, connect, DeliverPolicy, Empty, JSONCodec } from "nats";

const env = process.env;
const user = env.SENDX_NATS_USER;
const org = user?.match(/^[a-z]+-([A-Z0-9]+)-client$/)?.[1];
if (!org) {
  console.error(`SENDX_NATS_USER=${user}: expected <kind>-<org>-client, e.g. icb-QK1-client`);
  process.exit(1);
}
const STREAM = "SEND_FEEDS";
const durable = `${org}-feed`;
const json = JSONCodec();
const print = (line) => console.log(JSON.stringify(line));
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const nc = await connect({
  servers: (env.NATS_URL ?? "nats://127.0.0.1:4222").split(","),
  user,
  pass: env.SENDX_NATS_PASSWORD,
  inboxPrefix: `_INBOX.${user}`, // your own inbox: the only one you may subscribe to
  tls: env.SENDX_NATS_CA ? { caFile: env.SENDX_NATS_CA, handshakeFirst: true } : undefined,
  maxReconnectAttempts: -1,
  reconnectTimeWait: 250,
});
let stopping = false;
process.on("SIGTERM", () => { stopping = true; });

async function bind() {
  const jsm = await nc.jetstreamManager();
  await jsm.consumers.add(STREAM, {
    name: durable, durable_name: durable, filter_subject: `send.feed.${org}.>`,
    ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.All,
  });
  return nc.jetstream().consumers.get(STREAM, durable);
}

async function feedKey(source, person) {
  const subject = `$KV.SEND_FEED_KEYS.${org}.${source}.${person}`;
  const reply = await nc.request(`$JS.API.DIRECT.GET.KV_SEND_FEED_KEYS.${subject}`, Empty);
  return reply.data.length === 32 ? reply.data : null; // 404 (none) or a purge marker: erased
}

function openToken(key, token, event, field) {
  const raw = Buffer.from(token, "base64url");
  const decipher = createDecipheriv("aes-256-gcm", key, raw.subarray(0, 12));
  decipher.setAAD(Buffer.from(["send-exchange/feed/v1", org, event.event_id, event.person_key,
    event.type, field].join("|")));
  decipher.setAuthTag(raw.subarray(raw.length - 16));
  const plain = Buffer.concat([decipher.update(raw.subarray(12, raw.length - 16)),
    decipher.final()]);
  return JSON.parse(plain.toString("utf8"));
}

async function openFields(m, event) {
  const tokens = m.headers.get("Sendx-Opened");
  if (!tokens) return {};
  const key = await feedKey(event.source_org, event.person_key);
  if (!key) return {};
  return Object.fromEntries(Object.entries(JSON.parse(tokens))
    .map(([field, token]) => [field, openToken(key, token, event, field)]));
}

let consumer;
while (!consumer && !stopping) {
  try {
    consumer = await bind();
  } catch (err) {
    print({ warning: `binding ${durable}: ${err.message}` });
    await sleep(500);
  }
}
print({ ready: true, consumer: durable });
while (!stopping) {
  try {
    const batch = await consumer.fetch({ max_messages: 256, expires: 1000 });
    for await (const m of batch) {
      const event = json.decode(m.data);
      print({
        event_id: m.headers.get("Nats-Msg-Id").slice(org.length + 1),
        subject: m.subject,
        clause: m.headers.get("Sendx-Clause"),
        agreement: m.headers.get("Sendx-Agreement"),
        source_seq: Number(m.headers.get("Sendx-Source-Seq")),
        redelivered: m.info.redelivered,
        event: { type: event.type, source_org: event.source_org, person_key: event.person_key },
        opened: await openFields(m, event),
      });
      m.ack();
    }
  } catch (err) {
    print({ warning: `fetch: ${err.message}` });
    await sleep(250);
  }
}
await nc.drain();
